from django.contrib import admin, messages
from django.utils.translation import ngettext

from book.models import Account
from console.admin import ModelAdmin, ReadOnlyAdmin, TabularInline

from . import services
from .models import AccountRisk, CallRemark, CallSnapshot, DeadlineChange, MarginCall, RuleSet


def _recompute(request, **changes):
    result = services.recompute_accounts(account_ids=services.affected_accounts(**changes))
    if result.failed:
        messages.warning(
            request,
            ngettext(
                "%(count)d account could not be recomputed: %(why)s",
                "%(count)d accounts could not be recomputed: %(why)s",
                len(result.failed),
            )
            % {"count": len(result.failed), "why": "; ".join(sorted(set(result.failed.values())))},
        )


@admin.register(RuleSet)
class RuleSetAdmin(ModelAdmin):
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
class AccountRiskAdmin(ModelAdmin):
    list_display = ["account", "call_type", "call_amount", "nav_ratio", "equity", "computed_at"]
    list_filter = ["call_type"]
    search_fields = ["account__account_no"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class CallRemarkInline(TabularInline):
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
