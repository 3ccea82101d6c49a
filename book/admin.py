from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from guardian.admin import GuardedModelAdmin

from console.admin import AdminFields, GuardedKeys, ModelAdmin, ReadOnlyAdmin, TabularInline

from .models import (
    Account,
    ApiToken,
    CashBalance,
    Desk,
    FxRate,
    Instrument,
    LendingAvailability,
    PendingRecompute,
    Position,
)
from .signals import BookEffect, book_written


def _recompute(request, account_ids=(), instrument_ids=(), currencies=()):
    """The apps above the book follow an edit made here (the risk app recomputes what it moved)."""
    now = timezone.now()
    failed = {}
    for _receiver, effect in book_written.send(
        sender=admin.ModelAdmin,
        account_ids=set(account_ids),
        instrument_ids=set(instrument_ids),
        currencies=set(currencies),
        account_nos=[],
        deposits=(),
        at=now,
        now=now,
    ):
        if isinstance(effect, BookEffect):
            failed.update(effect.failed)
    if failed:
        messages.warning(
            request,
            ngettext(
                "%(count)d account could not be recomputed: %(why)s",
                "%(count)d accounts could not be recomputed: %(why)s",
                len(failed),
            )
            % {"count": len(failed), "why": "; ".join(sorted(set(failed.values())))},
        )


@admin.register(Desk)
class DeskAdmin(GuardedKeys, AdminFields, GuardedModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class CashBalanceInline(TabularInline):
    model = CashBalance
    extra = 0


class PositionInline(TabularInline):
    model = Position
    extra = 0
    autocomplete_fields = ["instrument"]


@admin.register(Account)
class AccountAdmin(ModelAdmin):
    list_display = ["account_no", "name", "kind", "desk"]
    list_filter = ["kind", "desk"]
    search_fields = ["account_no", "name"]
    list_select_related = ["desk"]
    inlines = [CashBalanceInline, PositionInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _recompute(request, account_ids=[form.instance.pk])


@admin.register(Instrument)
class InstrumentAdmin(ModelAdmin):
    list_display = ["symbol", "name", "kind", "currency", "price", "status", "im_rate", "mm_rate", "fm_rate"]
    list_filter = ["kind", "status", "currency"]
    search_fields = ["symbol", "name"]
    autocomplete_fields = ["underlying"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _recompute(request, instrument_ids=[obj.pk])


@admin.register(FxRate)
class FxRateAdmin(ModelAdmin):
    list_display = ["currency", "rate", "as_of"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _recompute(request, currencies=[obj.currency])


@admin.register(PendingRecompute)
class PendingRecomputeAdmin(ReadOnlyAdmin):
    """Prices whose holders' figures have not followed them yet: normally empty or a moment old."""

    list_display = ["instrument", "since", "version", "attempts", "last_error"]
    list_select_related = ["instrument"]


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    """Creating a token shows its secret once; only its hash is kept. Deactivate to revoke."""

    list_display = ["name", "prefix", "active", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "active", "prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        token = obj.issue() if not change else None
        super().save_model(request, obj, form, change)
        if token:
            messages.warning(
                request,
                _("The token for %(name)s is %(token)s. Copy it now: it is not kept and will not be shown again.")
                % {"name": obj.name, "token": token},
            )


@admin.register(LendingAvailability)
class LendingAvailabilityAdmin(ModelAdmin):
    list_display = ["instrument", "lendable", "as_of"]
    search_fields = ["instrument__symbol"]
    list_select_related = ["instrument"]
