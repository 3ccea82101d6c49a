from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from . import services
from .models import (
    Account,
    AccountRisk,
    ApiToken,
    AuditEntry,
    CallRemark,
    CallSnapshot,
    CashBalance,
    DeadlineChange,
    Desk,
    FxRate,
    Instrument,
    MarginCall,
    PendingRecompute,
    Position,
    RuleSet,
)


def _recompute(request, **changes):
    result = services.recompute_accounts(account_ids=services.affected_accounts(**changes))
    if result.failed:
        messages.warning(
            request,
            _("%(count)d account(s) could not be recomputed: %(why)s")
            % {"count": len(result.failed), "why": "; ".join(sorted(set(result.failed.values())))},
        )


@admin.register(Desk)
class DeskAdmin(GuardedModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class CashBalanceInline(admin.TabularInline):
    model = CashBalance
    extra = 0


class PositionInline(admin.TabularInline):
    model = Position
    extra = 0
    autocomplete_fields = ["instrument"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["account_no", "name", "kind", "desk"]
    list_filter = ["kind", "desk"]
    search_fields = ["account_no", "name"]
    list_select_related = ["desk"]
    inlines = [CashBalanceInline, PositionInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _recompute(request, account_ids=[form.instance.pk])


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "kind", "currency", "price", "status", "im_rate", "mm_rate", "fm_rate"]
    list_filter = ["kind", "status", "currency"]
    search_fields = ["symbol", "name"]
    autocomplete_fields = ["underlying"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _recompute(request, instrument_ids=[obj.pk])


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "rate", "as_of"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _recompute(request, currencies=[obj.currency])


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = [
        "account_kind",
        "call_coefficient",
        "deadline_sessions",
        "deadline_move_sessions",
        "long_outstanding_days",
        "snapshot_time",
        "updated_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _recompute(request, account_ids=Account.objects.filter(kind=obj.account_kind).values_list("pk", flat=True))


@admin.register(AccountRisk)
class AccountRiskAdmin(admin.ModelAdmin):
    list_display = ["account", "call_type", "call_amount", "nav_ratio", "equity", "computed_at"]
    list_filter = ["call_type"]
    search_fields = ["account__account_no"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the console writes; admins read them here and change them nowhere."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CallRemarkInline(admin.TabularInline):
    model = CallRemark
    extra = 0
    can_delete = False
    readonly_fields = ["author", "text", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


class DeadlineChangeInline(CallRemarkInline):
    model = DeadlineChange
    readonly_fields = ["old_deadline", "new_deadline", "reason", "changed_by", "changed_at"]


@admin.register(MarginCall)
class MarginCallAdmin(ReadOnlyAdmin):
    list_display = ["account", "status", "call_type", "triggered_at", "deadline", "closed_at", "close_cause"]
    list_filter = ["status", "call_type", "close_cause", "account__kind"]
    search_fields = ["account__account_no", "account__name"]
    list_select_related = ["account"]
    date_hierarchy = "triggered_at"
    inlines = [CallRemarkInline, DeadlineChangeInline]


@admin.register(CallSnapshot)
class CallSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["call", "kind", "taken_at", "call_type", "call_amount", "nav_ratio"]
    list_filter = ["kind"]
    search_fields = ["call__account__account_no"]
    list_select_related = ["call__account"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "outcome"]
    list_filter = ["action"]
    search_fields = ["user__username", "action"]
    list_select_related = ["user"]


@admin.register(PendingRecompute)
class PendingRecomputeAdmin(ReadOnlyAdmin):
    """Prices whose holders' figures have not followed them yet: normally empty or a moment old."""

    list_display = ["instrument", "since", "version", "attempts", "last_error"]
    list_select_related = ["instrument"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
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
