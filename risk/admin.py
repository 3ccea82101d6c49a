from contextlib import suppress
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from book.admin import recompute_after_edit
from book.models import Account, Desk
from console.admin import ModelAdmin, PreviewedSave, ReadOnlyAdmin, TabularInline, register_impact
from console.text import first_few

from . import formatting, services
from .calls import CallChanges
from .models import AccountRisk, CallRemark, CallSnapshot, CallType, DeadlineChange, MarginCall, RuleSet


class CallsImpact:
    """What a save in the admin does to the margin calls: the calls it opens (their clients are sent the
    trigger notice), escalates to force call, and closes. Only the recomputes of the accounts the save
    moved are counted (``services.asked_call_changes``): a price's pass that commits meanwhile changes
    other calls, and is not the save's doing. Prices still waiting for their pass are followed first,
    and kept: the trial then moves the accounts it reaches by the change alone, not by the market too."""

    SHOWN = 5  # account numbers named per line

    def before(self):
        # A pass that fails is alerted on and retried by the sweep; the trial then follows those prices.
        with suppress(Exception):
            services.follow_pending()
        return services.asked_call_changes.set(CallChanges())

    def end(self, token) -> None:
        services.asked_call_changes.reset(token)

    def after(self, token) -> list[str]:
        changes = services.asked_call_changes.get() or CallChanges()
        ids = {*changes.opened, *changes.reopened, *changes.escalated, *changes.closed}
        account_of = dict(MarginCall.objects.filter(pk__in_ids=sorted(ids)).values_list("pk", "account_id"))
        opened, reopened, escalated, closed = (
            {account_of[call_id] for call_id in call_ids if call_id in account_of}
            for call_ids in (changes.opened, changes.reopened, changes.escalated, changes.closed)
        )
        lines = []
        for accounts, say in (
            (opened, lambda n: ngettext(
                "open %(count)d margin call (%(accounts)s); its client is sent the trigger notice",
                "open %(count)d margin calls (%(accounts)s); their clients are sent the trigger notice", n)),
            (reopened, lambda n: ngettext(
                "reopen %(count)d margin call (%(accounts)s), closed a moment ago; no new trigger notice",
                "reopen %(count)d margin calls (%(accounts)s), closed a moment ago; no new trigger notice", n)),
            (escalated, lambda n: ngettext(
                "escalate %(count)d call to force call (%(accounts)s); its client is sent the force-call notice",
                "escalate %(count)d calls to force call (%(accounts)s); their clients are sent the force-call "
                "notice", n)),
            (closed, lambda n: ngettext(
                "close %(count)d margin call (%(accounts)s)", "close %(count)d margin calls (%(accounts)s)", n)),
        ):  # fmt: skip
            if accounts:
                lines.append(say(len(accounts)) % {"count": len(accounts), "accounts": self._named(accounts)})
        return lines

    def _named(self, account_ids) -> str:
        accounts = Account.objects.filter(pk__in=list(account_ids)).order_by("account_no")
        return first_few(accounts.values_list("account_no", flat=True)[: self.SHOWN + 1], self.SHOWN)


register_impact(CallsImpact())


class CallTermsImpact:
    """Open calls a save leaves open but changes: eased from force call, moved to another call type, or
    owing another amount (what their clients were told no longer holds). Counted, as the calls it opens and
    closes, only from the recomputes of the accounts the save moved (``services.asked_call_changes``,
    begun by :class:`CallsImpact`, which follows the prices waiting first). A price's pass that commits
    between this snapshot and the trial moves the amounts shown by the market too: the confirmation then
    no longer matches, and the form is shown again with what saving does now."""

    SHOWN = 5

    def before(self):
        return {
            pk: (call_type, amount)
            for pk, call_type, amount in MarginCall.objects.filter(closed_at__isnull=True).values_list(
                "pk", "call_type", "call_amount"
            )
        }

    def end(self, token) -> None:
        pass

    def after(self, token) -> list[str]:
        changes = services.asked_call_changes.get() or CallChanges()
        ids = sorted(({*changes.followed, *changes.eased} - {*changes.closed, *changes.escalated}) & token.keys())
        rows = (
            MarginCall.objects.filter(pk__in_ids=ids, closed_at__isnull=True)
            .values_list("pk", "account__account_no", "call_type", "call_amount")
            .order_by("account__account_no")
        )
        eased, retyped, owing = [], [], []
        for pk, account_no, call_type, amount in rows:
            was_type, was_amount = token[pk]
            if call_type != was_type:
                (eased if was_type == CallType.FORCE_CALL else retyped).append(
                    f"{account_no} {self._label(was_type)} → {self._label(call_type)}"
                )
            if amount != was_amount:
                owing.append(f"{account_no} {formatting.money(was_amount)} → {formatting.money(amount)}")
        lines = []
        for named, say in (
            (eased, lambda n: ngettext(
                "ease %(count)d force call (%(moves)s)", "ease %(count)d force calls (%(moves)s)", n)),
            (retyped, lambda n: ngettext(
                "change the type of %(count)d open call (%(moves)s)",
                "change the type of %(count)d open calls (%(moves)s)", n)),
            (owing, lambda n: ngettext(
                "change the amount of %(count)d open call (%(moves)s)",
                "change the amount of %(count)d open calls (%(moves)s)", n)),
        ):  # fmt: skip
            if named:
                lines.append(say(len(named)) % {"count": len(named), "moves": first_few(named, self.SHOWN, "; ")})
        return lines

    @staticmethod
    def _label(call_type: str) -> str:
        """A call type as the admin reads it; one the console does not know, as it is stored."""
        return str(dict(CallType.choices).get(call_type, call_type or "—"))


register_impact(CallTermsImpact())


class DeskMoveImpact:
    """Open calls a save moves to another desk (an account's desk changed, or cleared): the traders of
    the desk it leaves no longer see them. Shown first, as the calls a save opens or closes are."""

    SHOWN = 5

    def before(self):
        return dict(MarginCall.objects.filter(closed_at__isnull=True).values_list("pk", "desk_id"))

    def end(self, token) -> None:
        pass

    def after(self, token) -> list[str]:
        rows = (
            MarginCall.objects.filter(pk__in_ids=sorted(token), closed_at__isnull=True)
            .values_list("pk", "desk_id", "desk__code", "account__account_no")
            .order_by("account__account_no")
        )
        moved = [(account_no, token[pk], code) for pk, desk, code, account_no in rows if desk != token[pk]]
        if not moved:
            return []
        codes = dict(Desk.objects.filter(pk__in=[left for _no, left, _code in moved if left]).values_list("pk", "code"))
        named = [f"{account_no} {codes.get(left, '—')} → {code or '—'}" for account_no, left, code in moved]
        shown = first_few(named, self.SHOWN, separator="; ")
        return [
            ngettext(
                "move %(count)d open call to another desk (%(moves)s): the traders of the desk it leaves no "
                "longer see it",
                "move %(count)d open calls to other desks (%(moves)s): the traders of the desks they leave no "
                "longer see them",
                len(moved),
            )
            % {"count": len(moved), "moves": shown}
        ]


register_impact(DeskMoveImpact())


# Below 1, maintenance margin times the coefficient can fall under the force-liquidation margin (a
# delisted stock's rates are all 1), and a force call would have no call amount; far above it, every
# account is called at once.
COEFFICIENT_RANGE = (Decimal("1"), Decimal("10"))


class RuleSetForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        helps = {
            "call_coefficient": _(
                "Maintenance margin is multiplied by this in the margin shortfall: from 1 (call at the"
                " maintenance margin) to 10. A change recomputes every account of the kind at once, and"
                " opens or closes their calls (and sends the notices) accordingly."
            ),
            "long_outstanding_days": _(
                "Calendar days since its trigger after which an open call counts as long outstanding (its"
                " own total on the lists)."
            ),
            "deadline_sessions": _(
                "A call's deadline is the close of this many HKEX sessions after its trigger. A change applies"
                " to calls opened from then on; open calls keep their deadlines."
            ),
        }
        for name, text in helps.items():
            if name in self.fields:
                self.fields[name].help_text = text

    def clean_call_coefficient(self):
        value = self.cleaned_data["call_coefficient"]
        low, high = COEFFICIENT_RANGE
        if not low <= value <= high:
            raise forms.ValidationError(
                _(
                    "Enter a coefficient from %(low)s to %(high)s: below 1 a force call could have no call"
                    " amount; above %(high)s nearly every account is called."
                ),
                code="range",
                params={"low": low, "high": high},
            )
        return value

    def clean(self):
        cleaned = super().clean()
        band, limit = cleaned.get("price_band"), cleaned.get("price_deviation_limit")
        if band is not None and limit is not None and limit < band:
            self.add_error(
                "price_deviation_limit",
                forms.ValidationError(
                    _("At least the order price band (%(band)s): the default limit itself would be refused."),
                    code="below_band",
                    params={"band": band},
                ),
            )
        return cleaned


@admin.register(RuleSet)
class RuleSetAdmin(PreviewedSave, ModelAdmin):
    form = RuleSetForm
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
        recompute_after_edit(
            request, account_ids=Account.objects.filter(kind=obj.account_kind).values_list("pk", flat=True)
        )


@admin.register(AccountRisk)
class AccountRiskAdmin(ModelAdmin):
    list_display = ["account", "call_type", "call_amount", "nav_ratio", "equity", "computed_at"]
    list_filter = ["call_type"]
    search_fields = ["account__account_no"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_delete_permission(self, request, obj=None):
        return False  # the engine's own: a deleted row shows "not computed yet" until the next recompute

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
