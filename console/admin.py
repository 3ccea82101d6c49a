import re

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models

from . import fields
from .models import AuditEntry

KEY = re.compile(r"[0-9]{1,18}")  # an integer key as a form sends it
YEARS = range(1900, 9999)  # a date hierarchy's year: its next year and its UTC bounds exist too


class AutocompleteKey(AutocompleteSelect):
    """An autocomplete that redraws a refused value ('abc', a NUL, 20 digits) with the form's error:
    Django's looks the value up as a key to show it, and failed there."""

    def optgroups(self, name, value, attr=None):
        if isinstance(self.field.target_field, models.IntegerField):
            value = [item for item in value if KEY.fullmatch(str(item))]
        return super().optgroups(name, value, attr)


class KeyChoiceField(forms.ModelChoiceField):
    """A choice of a row by its integer key: ASCII digits only ('١' is not row 1)."""

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values and not KEY.fullmatch(value):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class BoundedChangeList(ChangeList):
    """A date hierarchy's year at the calendar's edge (?triggered_at__year=9999, or 1) is a bad lookup
    (the list says so and shows everything), not an error: Django's bounds for it do not exist."""

    def get_filters(self, request):
        if self.date_hierarchy:
            year = request.GET.get(f"{self.date_hierarchy}__year")
            if year is not None and not (KEY.fullmatch(year) and int(year) in YEARS):
                raise IncorrectLookupParameters(f"no such year: {year[:20]!r}")
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


class AdminFields:
    """An admin's forms read numbers as the console's do (ASCII digits only: '١' is not 1), and its
    autocompletes redraw a bad value."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", fields.DecimalField)
        elif isinstance(db_field, models.IntegerField) and not db_field.choices:
            kwargs.setdefault("form_class", fields.IntegerField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if isinstance(db_field.target_field, models.IntegerField):
            kwargs.setdefault("form_class", KeyChoiceField)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteKey(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ModelAdmin(AdminFields, admin.ModelAdmin):
    """Every admin of the console's models."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList


class TabularInline(AdminFields, admin.TabularInline):
    pass


class ReadOnlyAdmin(ModelAdmin):
    """Records the console writes; admins read them here and change them nowhere."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "outcome"]
    list_filter = ["action"]
    search_fields = ["user__username", "action"]
    list_select_related = ["user"]
