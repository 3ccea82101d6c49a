from django.contrib import admin
from django.utils import timezone
from django.utils.translation import ngettext

from book.models import Account
from console.admin import ModelAdmin, PreviewedSave, ReadOnlyAdmin, TabularInline, register_impact
from console.text import first_few

from . import auto
from .models import Fill, LiquidationSwitch, Order


class AutoLiquidationImpact:
    """What a save in the admin does to automatic liquidation: the open calls it makes due at once
    (past their deadline, once their rule set liquidates calls past the deadline; any call due while
    the switch was off, once it is on). Their plans are placed by the next minute's check while HKEX
    trades, so such a save is shown first, as one that opens or closes calls is."""

    SHOWN = 5  # account numbers named

    def before(self):
        now = timezone.now()  # both sides at one moment: a call whose time comes meanwhile is not the save's
        return now, self._due(now)

    def end(self, token) -> None:
        pass

    def after(self, token) -> list[str]:
        now, due_before = token
        made_due = self._due(now) - due_before
        if not made_due:
            return []
        accounts = Account.objects.filter(calls__pk__in=sorted(made_due)).order_by("account_no").distinct()
        named = first_few(accounts.values_list("account_no", flat=True)[: self.SHOWN + 1], self.SHOWN)
        count = len(made_due)
        return [
            ngettext(
                "liquidate %(count)d open call by its plan (%(accounts)s): it is past its deadline or its set "
                "time, and the next check places its orders while HKEX trades",
                "liquidate %(count)d open calls by their plans (%(accounts)s): they are past their deadline or "
                "their set time, and the next check places their orders while HKEX trades",
                count,
            )
            % {"count": count, "accounts": named}
        ]

    @staticmethod
    def _due(now) -> set[int]:
        """The open calls automatic liquidation would place orders for at a check at ``now``."""
        if not LiquidationSwitch.automatic_on():
            return set()
        due = auto.due_calls(now)
        return {call.pk for call, _moment in due} - auto.placed_settings(due)


register_impact(AutoLiquidationImpact())


class FillInline(TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ["quantity", "price", "time", "reference"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are placed and cancelled from the console (or the commands); admins read them here."""

    list_display = ["created_at", "account", "instrument", "side", "quantity", "filled_quantity", "status", "source"]
    list_filter = ["status", "source", "side"]
    search_fields = ["account__account_no", "instrument__symbol"]
    list_select_related = ["account", "instrument"]
    inlines = [FillInline]


@admin.register(LiquidationSwitch)
class LiquidationSwitchAdmin(PreviewedSave, ModelAdmin):
    """One row: the kill switch of every automatic liquidation. Turned on, what it makes due is shown
    first; turned off, it is saved at once, with no preview to wait for (it is what is reached for in a
    hurry)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and not request.POST.get("automatic"):
            return ModelAdmin.changeform_view(self, request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    list_display = ["automatic", "changed_at"]

    def has_add_permission(self, request):
        return not LiquidationSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
