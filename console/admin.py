import datetime as dt
import re
from contextlib import ExitStack
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MinValueValidator
from django.db import DataError, models, transaction
from django.http import Http404, HttpResponseRedirect
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm, GroupManage, UserManage

from . import audit, fields
from .models import AuditEntry
from .querysets import VIEW_DESK
from .text import validate_key

YEARS = range(1900, 9999)  # a date hierarchy's year: its next year and its UTC bounds exist too


def key_field(relation: models.Field) -> models.Field:
    """The column a relation's value finally is (through a key that is itself a relation)."""
    target = relation.target_field
    while target.is_relation:
        target = target.target_field
    return target


def is_key(field: models.Field, value) -> bool:
    """Whether a form's value could be a row's key in this column: an integer one in ASCII digits that
    fit 64 bits; another one that its field reads, with no control character."""
    text = str(value)
    if isinstance(field, models.IntegerField):
        return fields.ID.fullmatch(text) is not None
    if not text.isprintable():
        return False
    try:
        field.to_python(text)
    except ValidationError:
        return False
    return True


class AutocompleteKey(AutocompleteSelect):
    """An autocomplete that redraws a refused value ('abc', a NUL, 20 digits) with the form's error:
    Django's looks the value up as a key to show it, and failed there."""

    def optgroups(self, name, value, attr=None):
        target = key_field(self.field)
        return super().optgroups(name, [item for item in value if is_key(target, item)], attr)


class KeyChoiceField(forms.ModelChoiceField):
    """A choice of a row by its key: one that could be a key only ('١' is not row 1)."""

    def __init__(self, *args, key: models.Field, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key

    def to_python(self, value):
        if value not in self.empty_values and not isinstance(value, models.Model) and not is_key(self.key, value):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class BoundedChangeList(ChangeList):
    """A date or a year at the calendar's edge in a list's query (?triggered_at__year=9999, a year of 1,
    ?deadline__lt=0001-01-01) is a bad lookup (the list says so and shows everything), not an error:
    such bounds, or their UTC times, do not exist."""

    def get_filters(self, request):
        for name, value in request.GET.items():
            if "\x00" in name or "\x00" in value:  # no column holds a NUL: nothing can match
                raise IncorrectLookupParameters("a NUL character in the query")
            parts = name.split("__")
            if ("year" in parts or "iso_year" in parts) and not (fields.ID.fullmatch(value) and int(value) in YEARS):
                raise IncorrectLookupParameters(f"no such year: {value[:20]!r}")
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        try:
            with transaction.atomic():  # a savepoint: an error leaves any transaction around it usable
                return super().get_results(request)
        except (OverflowError, DataError) as error:  # a date whose UTC time does not exist; 1e999999
            raise IncorrectLookupParameters(error) from error


SECRET_FIELDS = ("password", "token", "secret")  # logged as changed, never with their values


def keep_unshown_microseconds(form) -> None:
    """A time the form's boxes show to the second (the admin's), sent back as shown, keeps the stored
    microseconds: the save leaves it as it is and the audit log sees no change."""
    for name, field in form.fields.items():
        before, after = form.initial.get(name), form.cleaned_data.get(name)
        if (
            isinstance(field, forms.DateTimeField | forms.SplitDateTimeField)
            and isinstance(before, dt.datetime)
            and isinstance(after, dt.datetime)
            and before.microsecond
            and before.replace(microsecond=0) == after
        ):
            form.cleaned_data[name] = before
            if hasattr(form.instance, name):
                setattr(form.instance, name, before)


# How much of a changed value the audit log keeps: a notice template's whole text (4,000 characters),
# so a change at its end is seen too.
CHANGE_KEPT = 4000


def admin_changes(form) -> dict:
    """What an admin's change form changed: {field: [before, after]}, as text."""

    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, list | tuple | models.QuerySet):  # many rows (a user's groups)
            return ", ".join(str(item) for item in value)[:CHANGE_KEPT]
        return str(value)[:CHANGE_KEPT]

    names = list(form.changed_data)
    # A field with a default made when the form is drawn (a time: now) is compared by Django with the
    # initial value the page sent back, which a redrawn page (a preview) has set to the new one: here it
    # is compared with the row as stored.
    names += [
        name
        for name, field in form.fields.items()
        if field.show_hidden_initial
        and name not in names
        and name in form.cleaned_data
        and form.initial.get(name) != form.cleaned_data[name]
    ]
    changes = {}
    for name in names:
        if any(word in name for word in SECRET_FIELDS):
            changes[name] = ["…", "…"]
            continue
        before = form.initial.get(name)
        field = form.fields.get(name)
        if (
            isinstance(field, forms.ModelChoiceField)
            and not isinstance(field, forms.ModelMultipleChoiceField)
            and isinstance(before, int | str)
        ):  # one row's key: show the row (many rows come as the rows)
            before = field.queryset.filter(pk=before).first() or before
        after = form.cleaned_data.get(name)
        if isinstance(field, forms.URLField):  # an address may carry a key in its query
            before, after = without_query(before), without_query(after)
        changes[name] = [text(before), text(after)]
    return changes


def without_query(url) -> str | None:
    """An address as the audit log keeps it: with no credentials and no query (either may hold a key)."""
    if not url:
        return url
    try:
        parts = urlsplit(str(url))
    except ValueError:  # not an address Python reads ("http://[oops" in a name): cut at its query by hand
        text = re.split(r"[?#]", str(url), maxsplit=1)[0]
        return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/]*@", r"\1", text, flags=re.IGNORECASE)
    netloc = parts.netloc.rpartition("@")[2]  # as written, less any credentials
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def admin_detail(obj, changes: dict | None = None) -> dict:
    # An object's name may hold an address (a gateway's): no credentials or query there either.
    name = re.sub(
        r"[a-z][a-z0-9+.-]*://\S+", lambda found: without_query(found.group()) or "", str(obj), flags=re.IGNORECASE
    )
    detail = {"model": obj._meta.label, "pk": str(obj.pk), "object": name[:200]}
    if changes:
        detail["changes"] = changes
    return detail


class BoundedLists:
    """A list that reads its query as the console's do (:class:`BoundedChangeList`), and whose search,
    and an autocomplete's (a form's choice of a row of this admin), finds nothing for a NUL: no column
    holds one (PostgreSQL refuses to compare one)."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList

    def get_search_results(self, request, queryset, search_term):
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class AuditedDeletes:
    """A row deleted in the admin (one, or many by the list's action) is audited, in its transaction."""

    def delete_model(self, request, obj):
        detail = admin_detail(obj)
        with transaction.atomic():
            super().delete_model(request, obj)
            audit.record(request.user, "admin_delete", detail=detail)

    def delete_queryset(self, request, queryset):
        details = [admin_detail(obj) for obj in queryset]
        with transaction.atomic():  # the rows and their audit entries, all or none
            super().delete_queryset(request, queryset)
            audit.record_each(request.user, "admin_delete", details)


class AdminFields(AuditedDeletes, BoundedLists):
    """An admin's forms read numbers, dates and times as the console's do (ASCII digits only: '١' is not
    1), a row's key only as a key, and its autocompletes redraw a bad value."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DateTimeField):
            kwargs.setdefault("form_class", fields.SplitDateTimeField)
        elif isinstance(db_field, models.DateField):
            kwargs.setdefault("form_class", fields.DateField)
        elif isinstance(db_field, models.TimeField):
            kwargs.setdefault("form_class", fields.TimeField)
        elif isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", fields.DecimalField)
        elif isinstance(db_field, models.IntegerField) and not db_field.choices:
            kwargs.setdefault("form_class", fields.IntegerField)
            # The model's own least value (a lot size of at least 1), not only the column's (0).
            least = [v.limit_value for v in db_field.validators if isinstance(v, MinValueValidator)]
            if least:
                kwargs.setdefault("min_value", max(least))
        elif type(db_field) in (models.CharField, models.TextField) and not db_field.choices:
            kwargs.setdefault("form_class", fields.StoredTextField)
            kwargs.setdefault("free_text", isinstance(db_field, models.TextField))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "form_class" not in kwargs:
            kwargs.update(form_class=KeyChoiceField, key=key_field(db_field))
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteKey(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        keep_unshown_microseconds(form)
        changes = admin_changes(form) if change else {}
        super().save_model(request, obj, form, change)
        if change and not changes:  # saved as it was (its inlines' changes are their own entries)
            return
        audit.record(request.user, "admin_change" if change else "admin_add", detail=admin_detail(obj, changes))

    def save_formset(self, request, form, formset, change):
        """A row added, changed or deleted in an inline (an account's cash lines, its positions) is audited
        as its own change."""
        entries = []
        for inline in formset.forms:
            if not hasattr(inline, "cleaned_data") or not inline.has_changed() or inline in formset.deleted_forms:
                continue
            if inline.instance.pk is None:
                entries.append(("admin_add", None, inline))
            else:
                keep_unshown_microseconds(inline)
                entries.append(("admin_change", admin_changes(inline), inline))
        deleted = [admin_detail(inline.instance) for inline in formset.deleted_forms if inline.instance.pk]
        super().save_formset(request, form, formset, change)
        for action, changes, inline in entries:
            audit.record(request.user, action, detail=admin_detail(inline.instance, changes))
        for detail in deleted:
            audit.record(request.user, "admin_delete", detail=detail)

    def _pk_field(self) -> models.Field:
        pk = self.model._meta.pk
        return key_field(pk) if pk.is_relation else pk

    def get_object(self, request, object_id, from_field=None):
        # Only what could be a key ('١' is not row 1; 'abc' or a NUL is no row): the admin says so.
        if from_field is None and not is_key(self._pk_field(), object_id):
            return None
        return super().get_object(request, object_id, from_field)

    def response_action(self, request, queryset, *args, **kwargs):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(not is_key(self._pk_field(), value) for value in selected):
            self.message_user(request, _("No such rows: reload the list and choose again."), messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, *args, **kwargs)


class ModelAdmin(AdminFields, admin.ModelAdmin):
    """Every admin of the console's models."""


# What a save in the admin does beyond its own row, told before it is done: the apps above register
# theirs (the risk app: the margin calls a change opens, escalates and closes). Each has ``before()``,
# a state taken before a trial save, ``after(state)``, the lines that say what the save changed, and
# ``end(state)``, once the save is kept or undone.
IMPACTS: list = []
CONFIRM_IMPACT = "_confirm_impact"
NOT_SIGNED = {"csrfmiddlewaretoken", CONFIRM_IMPACT, "_save", "_continue", "_addanother"}


def register_impact(impact) -> None:
    if impact not in IMPACTS:
        IMPACTS.append(impact)


class _Undone(Exception):
    """Rolls a trial save back."""


class SaveRefused(Exception):
    """Raised by a save whose effects cannot be kept (an account it moved cannot be recomputed: a figure
    too large to store): the save is undone, and its form comes back saying why, as an import of the
    same change is refused."""


class PreviewedSave:
    """A save whose effects reach past its row (a rule set, an instrument's terms, an FX rate, an
    account's cash) is tried first. If it would open, escalate or close calls (their clients then get
    notices), it is rolled back and the form comes back unsaved, saying what saving would do, with a
    token of that change and of what it would do. Sent again with the token, it is tried again and kept
    only if it still does what was shown; if the market moved it elsewhere meanwhile, the new effect is
    shown instead. A save that changes none of that is kept from its trial: each is done once."""

    change_form_template = "admin/previewed_change_form.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or not IMPACTS:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with ExitStack() as ending:  # each impact begun is ended, whatever happens after
            states = []
            for impact in IMPACTS:
                states.append(impact.before())
                ending.callback(impact.end, states[-1])
            return self._tried(request, object_id, form_url, extra_context, states)

    def _tried(self, request, object_id, form_url, extra_context, states):
        told = request._messages
        request._messages = type(told)(request)  # what the trial says is said only if it is kept
        try:
            with transaction.atomic():
                response = super().changeform_view(request, object_id, form_url, extra_context)
                # Whatever the answer (a redirect, a pop-up's page, the form again): what the calls did.
                lines = [line for impact, state in zip(IMPACTS, states, strict=True) for line in impact.after(state)]
                token = self._signature(request, object_id, lines)
                if lines and not constant_time_compare(request.POST.get(CONFIRM_IMPACT, ""), token):
                    raise _Undone
        except _Undone:
            request._messages = told
            request.console_impact = {"lines": lines, "token": token}
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SaveRefused as refused:
            request._messages = told
            request.console_refused = str(refused)
            return super().changeform_view(request, object_id, form_url, extra_context)
        finally:
            kept, request._messages = request._messages, told
        for message in kept._queued_messages:  # the trial is kept: so is what it said
            told.add(message.level, message.message, message.extra_tags)
        return response

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refused = getattr(request, "console_refused", None)
        if refused is not None:
            why = _("Not saved: %(why)s") % {"why": refused}
        elif getattr(request, "console_impact", None) is not None:
            why = _("Not saved yet: saving this changes margin calls (see above).")
        else:
            return form

        class Previewed(form):
            def clean(self):
                super().clean()
                raise ValidationError(why)

        return Previewed

    def render_change_form(self, request, context, *args, **kwargs):
        context["console_impact"] = getattr(request, "console_impact", None)
        return super().render_change_form(request, context, *args, **kwargs)

    def _signature(self, request, object_id, lines) -> str:
        """The change as sent (its fields, less buttons, tokens and the form's own record of initial
        values), its row, its user, and what it does to the calls, signed with the server's key: a
        confirmation holds for that change doing that, and is made by no one else."""
        items = sorted(
            (key, value)
            for key, values in request.POST.lists()
            if key not in NOT_SIGNED and not key.startswith("initial-")
            for value in values
        )
        text = repr((self.model._meta.label, object_id, request.user.pk, items, [str(line) for line in lines]))
        return salted_hmac(
            "console.admin.impact", text.encode("utf-8", "surrogatepass").hex(), algorithm="sha256"
        ).hexdigest()


# The one right on a desk the console reads (console.querysets.VIEW_DESK): who sees its accounts and calls.
SEES_DESK = gettext_lazy("Sees this desk's accounts and calls")


class _DeskRight:
    """The desk's right, as the permission pages show their columns (a permission's codename and name)."""

    codename = VIEW_DESK.split(".")[1]
    name = SEES_DESK


class _OneRight:
    """guardian's grant form offering only the desk's right (adding, changing or deleting one desk
    grants nothing in the console), and saving only it: another right a row holds is left as it is."""

    def get_obj_perms_field_label(self):
        return gettext_lazy("Access")

    def get_obj_perms_field_choices(self):
        return [(_DeskRight.codename, _DeskRight.name)]

    def get_obj_perms_field_widget(self):
        return forms.CheckboxSelectMultiple


class DeskUserRights(_OneRight, AdminUserObjectPermissionsForm):
    pass


class DeskGroupRights(_OneRight, AdminGroupObjectPermissionsForm):
    pass


class UserByName(UserManage):
    user = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=200,
        error_messages={"does_not_exist": gettext_lazy("No user has this username.")},
        help_text=gettext_lazy("The username the user logs in with."),
    )


class GroupByName(GroupManage):
    group = forms.CharField(
        label=gettext_lazy("Group"),
        max_length=80,
        error_messages={"does_not_exist": gettext_lazy("No group has this name.")},
        help_text=gettext_lazy("Its members see the desk too."),
    )


class GuardedKeys:
    """django-guardian's object permission pages read their keys as the admin's others do: a key that
    is no row's ('abc', '١', a NUL) is a 404, not an error. Who may see a desk is who may act on its
    calls: giving it is managing users (or groups), not editing the desk, so these pages need the right
    to change users (or groups) too. They offer the one right the console reads, in the reader's
    language."""

    def get_obj_perms_base_context(self, request, obj):
        context = super().get_obj_perms_base_context(request, obj)
        context["model_perms"] = [_DeskRight]
        return context

    def get_obj_perms_user_select_form(self, request):
        return UserByName

    def get_obj_perms_group_select_form(self, request):
        return GroupByName

    def get_obj_perms_manage_user_form(self, request):
        return DeskUserRights

    def get_obj_perms_manage_group_form(self, request):
        return DeskGroupRights

    def obj_perms_manage_view(self, request, object_pk):
        if not is_key(self._pk_field(), object_pk):
            raise Http404
        if not (request.user.has_perm("auth.change_user") or request.user.has_perm("auth.change_group")):
            raise PermissionDenied(_("Giving access to a row is managing users or groups: you may not."))
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        if not request.user.has_perm("auth.change_user"):
            raise PermissionDenied(_("Giving a user access to a row is managing users: you may not."))
        return self._manage(super().obj_perms_manage_user_view, request, object_pk, user=user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        if not request.user.has_perm("auth.change_group"):
            raise PermissionDenied(_("Giving a group access to a row is managing groups: you may not."))
        return self._manage(super().obj_perms_manage_group_view, request, object_pk, group=group_id)

    def _manage(self, view, request, object_pk, **who):
        """One row's permissions for one user or group: keys checked first, a saved change audited."""
        [(_kind, key)] = who.items()
        if not (is_key(self._pk_field(), object_pk) and fields.ID.fullmatch(str(key))):
            raise Http404
        response = view(request, object_pk, key)
        self._audit_grant(request, response, object_pk, **who)
        return response

    def _audit_grant(self, request, response, object_pk, **who) -> None:
        """A permission on a row given or taken (a desk's, to a user or a group): audited, as saved."""
        if request.method == "POST" and response.status_code == 302:
            obj = self.model._default_manager.filter(pk=object_pk).first()
            detail = admin_detail(obj) if obj is not None else {"model": self.model._meta.label, "pk": object_pk}
            detail.update({**who, "permissions": sorted(request.POST.getlist("permissions"))[:50]})
            audit.record(request.user, "admin_permissions", detail=detail)


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


class ActionFilter(admin.SimpleListFilter):
    """The log's actions by their names in the reader's language (the codes stay in the URL)."""

    title = gettext_lazy("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(((code, audit.named(code)) for code in audit.NAMES), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action_name", "outcome"]
    list_filter = [ActionFilter]
    search_fields = ["user__username", "action"]
    list_select_related = ["user"]
    fields = ["at", "user", "action_name", "action", "targets", "detail", "outcome"]
    readonly_fields = ["action_name"]

    @admin.display(description=gettext_lazy("action"), ordering="action")
    def action_name(self, entry):
        return audit.named(entry.action)

    def get_search_results(self, request, queryset, search_term):
        """By user or stored code, as any list; and by an action's name as the reader sees it ("結束")."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().casefold()
        if term and "\x00" not in term:
            named = [code for code in audit.NAMES if term in audit.named(code).casefold()]
            if named:
                found = found | queryset.filter(action__in=named)
        return found, duplicates


class ConsoleUserAdmin(AdminFields, UserAdmin):
    """Users, read as the console's other admins read their rows (names with no control character or
    bidirectional override; keys only as keys). The username keeps Django's own field and rule, and is
    read as a key too (no look-alikes)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("username", "password"):
            return UserAdmin.formfield_for_dbfield(self, db_field, request, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class Keyed(form):
            def clean_username(self):
                username = super().clean_username() if hasattr(super(), "clean_username") else None
                username = self.cleaned_data.get("username") if username is None else username
                if username is None:  # Django's own check refused it (a name already taken) and said why
                    return username
                # "trаder" (a Cyrillic а) would read as trader in every list. A name given before this
                # rule is kept as it is until renamed (the user can still be edited, or deactivated).
                if "username" in self.changed_data:
                    validate_key(username)
                    # In any capitals, one name: "TRADER" beside "trader" would read as the same user.
                    others = User.objects.filter(username__iexact=username).exclude(pk=self.instance.pk)
                    if others.exists():
                        raise forms.ValidationError(_("A user with that username already exists."))
                return username

        return Keyed

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # set: that it changed, never what to
            user = User.objects.filter(pk=id).first()
            detail = admin_detail(user, {"password": ["…", "…"]}) if user else {"model": "auth.User", "pk": id}
            audit.record(request.user, "admin_change", detail=detail)
        return response


class ConsoleGroupAdmin(AdminFields, GroupAdmin):
    pass


admin.site.unregister(User)
admin.site.register(User, ConsoleUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, ConsoleGroupAdmin)


def _bound_login_attempt_lists() -> None:
    """django-axes registers its lists (login attempts, the access log) when its admin module is first
    imported: imported here, they are registered again as lists that refuse a bad query rather than fail
    on it (a NUL, a year past 9999, an offset of +23:59), and whose deletions (a login lock lifted) are
    audited."""
    import axes.admin  # noqa: F401  (registers its admins)

    for model, model_admin in list(admin.site._registry.items()):
        if model._meta.app_label == "axes" and not isinstance(model_admin, BoundedLists):
            bounded = type(type(model_admin).__name__, (AuditedDeletes, BoundedLists, type(model_admin)), {})
            admin.site.unregister(model)
            admin.site.register(model, bounded)


_bound_login_attempt_lists()
