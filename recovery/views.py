"""The stock-recovery pages: Covered Call Recovery (live from the book), Short Stock Recovery (from the
last scan), Securities Lending Overview; the covered-call details; and the actions on them (buy back,
status and remark), each needing ``recover``, desk-scoped and audited."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from book.book_format import printable
from book.models import Account, Instrument, LendingAvailability, Position
from console import audit, streams
from console.fields import IntegerField, TickedField, form_errors, parse_id
from console.lists import ListPage, Selection, sort_choices
from console.permissions import ConsoleMixin, can
from console.querysets import VIEW_DESK
from console.redirects import back_to
from console.text import first_few
from liquidation import services as liquidation
from liquidation.views import say_placed
from notices.views import say_queued
from risk.forms import MAX_PAGE, FreeTextField, TextField
from risk.templatetags.figures import notice_status_label

from . import live, rules, services
from .models import CaseStatus, CoveredCallCase, LendingPool, PoolStatus, Reason, RecoveryScan, ShortStockItem

RECOVER = "recovery.recover"
LISTED = 10  # rows a message lists by name; past that, "…"


def _visible_accounts(user):
    return Account.objects.visible_to(user)


# What each list sorts by: a column header's key, and the field it sorts.
CASE_SORTS = {
    "due": "due",
    "account": "account__account_no",
    "underlying": "underlying__symbol",
    "detected": "detected_at",
}
ITEM_SORTS = {
    "due": "due",
    "account": "account__account_no",
    "symbol": "instrument__symbol",
    "short": "short_quantity",
    "quantity": "quantity",
    "detected": "detected_at",
}


class CaseFilterForm(forms.Form):
    q = TextField(label=gettext_lazy("Account"), max_length=32, required=False)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", gettext_lazy("All statuses")), *CaseStatus.choices], required=False
    )
    sort = forms.ChoiceField(label=gettext_lazy("Sort"), choices=sort_choices(CASE_SORTS), required=False)
    page = IntegerField(label=gettext_lazy("Page"), min_value=1, max_value=MAX_PAGE, required=False)


class ShortFilterForm(CaseFilterForm):
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"), choices=[("", gettext_lazy("All reasons")), *Reason.choices], required=False
    )
    sort = forms.ChoiceField(label=gettext_lazy("Sort"), choices=sort_choices(ITEM_SORTS), required=False)


class CoveredCallListView(ListPage):
    """Accounts short call options on a stock they do not hold enough of: the shortfall from the book
    now, the case's status and remark."""

    form_class = CaseFilterForm
    template_name = "recovery/covered_calls.html"
    partial = "case-list"
    sorts = CASE_SORTS
    default_sort = "due"
    csv_name = "covered-call-recovery"
    dropped_from_query = ("page", "changed", "format")

    def select(self, request, values, now):
        services.sync_covered_calls(services.covered_calls_now, now=now)
        cases = CoveredCallCase.objects.filter(
            resolved_at__isnull=True, account__in=_visible_accounts(request.user)
        ).select_related("account", "underlying")
        if values.get("q"):
            cases = cases.filter(account__account_no__istartswith=values["q"].strip())
        if values.get("status"):
            cases = cases.filter(status=values["status"])
        return Selection(rows=cases)

    def row_values(self, rows, values, now, selection):
        with_messages(with_rules(rows), "covered_call")
        changed = streams.marked(self.request.GET.get("changed", ""))
        for row in rows:
            row.changed = row.pk in changed

    def context(self, request, values, now, selection):
        return {
            "can_recover": can(request.user, RECOVER),
            "statuses": CaseStatus.choices,
            "rendered_ms": int(now.timestamp() * 1000),
        }

    def csv_chunk(self, rows):
        return with_messages(with_rules(rows), "covered_call")

    def csv_header(self):
        return [
            _("Account"),
            _("Name"),
            _("Underlying"),
            _("Short calls"),
            _("Shares needed"),
            _("Shares held"),
            _("Shortfall"),
            _("Detected at"),
            _("Due"),
            _("Message"),
            _("Status"),
            _("Remark"),
        ]

    def csv_row(self, case, now):
        rule = case.rule
        return [
            case.account.account_no,
            case.account.name,
            case.underlying.symbol,
            " ".join(f"{symbol} x{contracts}" for symbol, contracts in rule.options) if rule else "",
            rule.required if rule else "",  # no shortfall now: covered
            rule.held if rule else "",
            rule.shortfall if rule else 0,
            timezone.localtime(case.detected_at).isoformat(),
            timezone.localtime(case.due).isoformat(),
            notice_status_label(case.message_status) if case.message_status else "",
            case.get_status_display(),
            case.remark,
        ]


async def case_events(request):
    """Server-sent events: ``cases`` with the covered-call cases opened or resolved as positions move
    (:mod:`console.streams`)."""
    return await streams.serve(request, live.CASES, "case", _cases_changed_for)


def _cases_changed_for(user, kind, since):
    return streams.changed_ids(CoveredCallCase.objects.filter(account__in=_visible_accounts(user)), since)


class CoveredCallDetailView(ConsoleMixin, View):
    """One case: the account's call options and stock on that underlying; buy back the short calls."""

    def get(self, request, pk):
        case = (
            CoveredCallCase.objects.filter(pk=pk, account__in=_visible_accounts(request.user))
            .select_related("account", "underlying")
            .first()
        )
        if case is None:
            raise Http404(_("No such case."))
        positions = list(
            Position.objects.filter(account=case.account)
            .filter(instrument__underlying=case.underlying)
            .select_related("instrument")
            | Position.objects.filter(account=case.account, instrument=case.underlying).select_related("instrument")
        )
        rule = None if case.resolved_at else with_rules([case])[0].rule
        working = liquidation.working_quantities([case.account_id])
        suggest_buy_backs(positions, rule.shortfall if rule else 0, working)
        reopened = open_again(case)
        return render(
            request,
            "recovery/covered_call.html",
            {
                "case": case,
                "rule": rule,
                "reopened": reopened,
                "positions": positions,
                "can_recover": can(request.user, RECOVER),
                "key": secrets.token_urlsafe(16),
                "statuses": CaseStatus.choices,
                "case_ids": [case.pk],
                "messages_sent": stock_messages(case, "covered_call"),
            },
        )


def open_again(row):
    """A resolved case's or item's open one, where the book shows the shortfall or the short again (its
    page is history, and links it), or None."""
    if row.resolved_at is None:
        return None
    stock = "underlying" if isinstance(row, CoveredCallCase) else "instrument"
    return type(row).objects.filter(account=row.account, resolved_at__isnull=True, **{stock: row.stock}).first()


def stock_messages(row, kind: str) -> list:
    """The messages of this kind sent about a case's or an item's stock (a message from before messages
    named their stock stands for all the account's), newest first, with their deliveries."""
    from notices.models import Notice

    return list(
        Notice.objects.filter(account_id=row.account_id, kind=kind, stock__in=[row.stock.symbol, ""], call__isnull=True)
        .select_related("created_by")
        .prefetch_related("deliveries")
        .order_by("-created_at", "-pk")[:MESSAGES_SHOWN]
    )


MESSAGES_SHOWN = 20


def suggest_buy_backs(positions: list, shortfall: int, working: dict) -> None:
    """Each short call's ``free`` (the contracts not yet in working buy-backs) and ``buy_back``: the
    contracts to buy back so that, with those already working, and taken in turn, they cover the
    shares short (contracts x multiplier), in whole lots of the option or all that is free."""
    calls = [p for p in positions if p.quantity < 0 and p.instrument.option_type == "call"]
    for position in positions:
        position.buy_back = 0
        position.on_order = min(abs(position.quantity), working.get((position.account_id, position.instrument_id), 0))
        position.free = abs(position.quantity) - position.on_order
    for position in calls:  # what is already on order covers first
        shortfall -= position.on_order * max(1, position.instrument.multiplier)
    for position in calls:
        if shortfall <= 0:
            break
        multiplier = max(1, position.instrument.multiplier)
        contracts = rules.up_to_lots(shortfall, multiplier) // multiplier
        position.buy_back = min(position.free, rules.up_to_lots(contracts, position.instrument.lot_size))
        shortfall -= position.buy_back * multiplier


class ShortStockDetailView(ConsoleMixin, View):
    """One short position to buy back: what the scan found and the book now, the stock's lending pool,
    the messages sent about it; buy to cover, message, status."""

    def get(self, request, pk):
        item = (
            ShortStockItem.objects.filter(pk=pk, account__in=_visible_accounts(request.user))
            .select_related("account", "instrument", "scan")
            .first()
        )
        if item is None:
            raise Http404(_("No such item."))
        if item.resolved_at is None:  # a resolved item is history: the book now is the open one's, if any
            with_book_now([item])
        pool = None
        if item.reason == Reason.LENDING_POOL and item.resolved_at is None:
            pool = next(iter(services.lending_now([item.instrument.symbol])), None)
        reopened = open_again(item)
        return render(
            request,
            "recovery/short_item.html",
            {
                "item": item,
                "pool": pool,
                "reopened": reopened,
                "can_recover": can(request.user, RECOVER),
                "key": secrets.token_urlsafe(16),
                "statuses": CaseStatus.choices,
                "item_ids": [item.pk],
                "messages_sent": stock_messages(item, "recovery"),
            },
        )


class ShortStockListView(ListPage):
    form_class = ShortFilterForm
    template_name = "recovery/short_stock.html"
    sorts = ITEM_SORTS
    default_sort = "due"
    csv_name = "short-stock-recovery"

    def select(self, request, values, now):
        items = ShortStockItem.objects.filter(
            resolved_at__isnull=True, account__in=_visible_accounts(request.user)
        ).select_related("account", "instrument")
        if values.get("q"):
            items = items.filter(account__account_no__istartswith=values["q"].strip())
        for name in ("status", "reason"):
            if values.get(name):
                items = items.filter(**{name: values[name]})
        return Selection(rows=items)

    def row_values(self, rows, values, now, selection):
        with_messages(with_book_now(rows))

    def csv_chunk(self, rows):
        return with_messages(with_book_now(rows))

    def csv_header(self):
        return [
            _("Account"),
            _("Name"),
            _("Stock"),
            _("Short quantity"),
            _("To recover"),
            _("Short now"),
            _("On order"),
            _("Still to buy"),
            _("Reason"),
            _("Detected at"),
            _("Due"),
            _("Message"),
            _("Status"),
            _("Remark"),
        ]

    def csv_row(self, item, now):
        return [
            item.account.account_no,
            item.account.name,
            item.instrument.symbol,
            item.short_quantity,
            item.quantity,
            item.short_now,
            item.on_order,
            item.to_buy,
            item.get_reason_display(),
            timezone.localtime(item.detected_at).isoformat(),
            timezone.localtime(item.due).isoformat(),
            notice_status_label(item.message_status) if item.message_status else "",
            item.get_status_display(),
            item.remark,
        ]

    def context(self, request, values, now, selection):
        return {
            "can_recover": can(request.user, RECOVER),
            "scan": RecoveryScan.objects.first(),
            "statuses": CaseStatus.choices,
            "key": secrets.token_urlsafe(16),
        }


class LendingView(ConsoleMixin, View):
    """Per stock with a lending row: lendable, lent, clients short, utilisation, recall, status."""

    def get(self, request):
        pools = services.lending_now()
        states = {
            pool.instrument.symbol: pool
            for pool in LendingPool.objects.select_related("instrument", "set_by").filter(
                instrument__symbol__in=[p.symbol for p in pools]
            )
        }
        symbols = [pool.symbol for pool in pools]
        names = dict(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", "name"))
        rows = [{"pool": pool, "state": states.get(pool.symbol), "name": names.get(pool.symbol, "")} for pool in pools]
        rows.sort(key=lambda row: (-(row["pool"].recall), row["pool"].symbol))
        reported = LendingAvailability.objects.aggregate(earliest=Min("as_of"), latest=Max("as_of"))
        symbol = request.GET.get("stock", "")
        detail = None
        if symbol and any(pool.symbol == symbol for pool in pools):
            shorts = list(
                Position.objects.filter(
                    instrument__symbol=symbol, quantity__lt=0, account__in=_visible_accounts(request.user)
                )
                .select_related("account")
                .order_by("quantity")
            )
            working = liquidation.working_quantities({position.account_id for position in shorts})
            # The scan's items with the book now (what was bought since, what is on order), as the Short
            # Stock Recovery page shows them: a Buy is offered for what is free, prefilled with the rest.
            items = {
                item.account_id: item
                for item in with_book_now(
                    list(
                        ShortStockItem.objects.filter(
                            instrument__symbol=symbol,
                            resolved_at__isnull=True,
                            account_id__in=[position.account_id for position in shorts],
                        ).select_related("instrument")
                    ),
                    working,
                )
            }
            for position in shorts:
                position.item = items.get(position.account_id)
                position.short = -position.quantity
                position.on_order = working.get((position.account_id, position.instrument_id), 0)
                position.free_now = max(0, position.short - position.on_order)
                position.to_buy = position.item.to_buy if position.item else 0
            detail = {"symbol": symbol, "shorts": shorts, "item_ids": [p.item.pk for p in shorts if p.item]}
            # A pool is the firm's: its figures count every desk's clients, the list only those seen here.
            clients = next(pool.clients for pool in pools if pool.symbol == symbol)
            detail["elsewhere"] = max(0, clients - len(detail["shorts"]))
        return render(
            request,
            "recovery/lending.html",
            {
                "rows": rows,
                "reported": reported,
                "detail": detail,
                "can_recover": can(request.user, RECOVER),
                "can_set_pools": can_set_pools(request.user),
                "statuses": PoolStatus.choices,
                "key": secrets.token_urlsafe(16),
            },
        )


# --- actions ---------------------------------------------------------------------------------------


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=CaseStatus.choices)
    remark = FreeTextField(label=gettext_lazy("Remark"), max_length=1000, required=False)


class PoolForm(forms.Form):
    stock = TextField(label=gettext_lazy("Stock"), max_length=32)
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=PoolStatus.choices)
    remark = FreeTextField(label=gettext_lazy("Remark"), max_length=1000, required=False)


class BuyForm(forms.Form):
    account = TextField(label=gettext_lazy("Account"), max_length=32)
    symbol = TextField(label=gettext_lazy("Stock"), max_length=32)
    quantity = IntegerField(label=gettext_lazy("Quantity"), min_value=1, max_value=10**12)
    key = forms.RegexField(regex=r"^[A-Za-z0-9_\-]{8,64}$")


class MessageForm(forms.Form):
    # ids, checked below
    items = forms.MultipleChoiceField(
        label=gettext_lazy("Selected"),
        required=False,
        choices=(),
        error_messages={"invalid_choice": gettext_lazy("%(value)s is not the id of a row.")},
    )
    cases = forms.MultipleChoiceField(
        label=gettext_lazy("Selected"),
        required=False,
        choices=(),
        error_messages={"invalid_choice": gettext_lazy("%(value)s is not the id of a row.")},
    )
    channels = TickedField(
        label=gettext_lazy("Channels"), choices=[("email", "email"), ("sms", "sms"), ("voice", "voice")]
    )
    text = FreeTextField(label=gettext_lazy("Message"), max_length=2000, required=False)
    key = forms.RegexField(regex=r"^[A-Za-z0-9_\-]{8,64}$")

    def __init__(self, data):
        super().__init__(data)
        for name in ("items", "cases"):
            self.fields[name].valid_value = lambda value: parse_id(value) is not None


class RecoverAction(ConsoleMixin, View):
    http_method_names = ["post"]
    action = "recover"
    permission = RECOVER

    def refuse(self, request, back: str, why: str) -> HttpResponseRedirect:
        """A refused action: said on the page it came from, and audited with why."""
        why = printable(str(why))
        messages.error(request, why)
        self.audit_refusal(request, f"refused: {why}")
        return HttpResponseRedirect(back)


class CaseStatusView(RecoverAction):
    """Set a covered-call case's or a short-stock item's status and remark."""

    model = CoveredCallCase
    default_back = "recovery:covered-calls"

    def post(self, request, pk):
        back = back_to(request, reverse(self.default_back))
        row = self.model.objects.filter(pk=pk, account__in=_visible_accounts(request.user)).first()
        if row is None:
            self.audit_refusal(request, "refused: unknown or other desk's case")
            raise Http404(_("No such case."))
        form = StatusForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, back, form_errors(form))
        now = timezone.now()
        # Resolved meanwhile (the book shows no shortfall): its last status and remark stay as they were.
        if not self.model.objects.filter(pk=row.pk, resolved_at__isnull=True).update(
            status=form.cleaned_data["status"], remark=form.cleaned_data["remark"], updated_at=now
        ):
            return self.refuse(request, back, _("This was resolved: the book no longer shows it. Its status is kept."))
        audit.record(
            request.user,
            "recover",
            detail={
                "case": f"{self.model._meta.model_name}:{row.pk}",
                "account": row.account.account_no,
                "status": form.cleaned_data["status"],
                "remark": form.cleaned_data["remark"][:500],
            },
            at=now,
        )
        messages.success(request, _("Saved."))
        return HttpResponseRedirect(back)


class ShortStatusView(CaseStatusView):
    model = ShortStockItem
    default_back = "recovery:short-stock"


def can_set_pools(user) -> bool:
    """A lending pool is the firm's (its figures count every desk's clients): its status is set by a
    user who may recover stock and sees every desk."""
    return can(user, RECOVER) and user.has_perm(VIEW_DESK)


class PoolStatusView(RecoverAction):
    def post(self, request):
        back = back_to(request, reverse("recovery:lending"))
        if not can_set_pools(request.user):  # the page shows such a user no form
            self.audit_refusal(request, "refused: a lending pool is the firm's; the user does not see every desk")
            raise PermissionDenied(
                _("A lending pool is the firm's: only a user who sees every desk may set its status.")
            )
        form = PoolForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, back, form_errors(form))
        instrument = Instrument.objects.filter(
            symbol=form.cleaned_data["stock"], pk__in=LendingAvailability.objects.values("instrument_id")
        ).first()
        if instrument is None:
            self.audit_refusal(request, "refused: no such lending pool")
            raise Http404(_("No such lending pool."))
        LendingPool.objects.update_or_create(
            instrument=instrument,
            defaults={
                "status": form.cleaned_data["status"],
                "remark": form.cleaned_data["remark"],
                "set_by": request.user,
                "updated_at": timezone.now(),
            },
        )
        audit.record(
            request.user,
            "recover",
            detail={"pool": instrument.symbol, "status": form.cleaned_data["status"]},
        )
        messages.success(request, _("Saved."))
        return HttpResponseRedirect(back)


class BuyBackView(RecoverAction):
    """Buy back a short (stock or call options) through the liquidation order path: reserved, sent to
    the gateway, cancellable on Liquidation Orders."""

    def post(self, request):
        back = back_to(request, reverse("recovery:short-stock"))
        form = BuyForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, back, form_errors(form))
        # Keys in any capitals, as the book holds them (c100481 is C100481)
        named, _unknown = _visible_accounts(request.user).named([form.cleaned_data["account"]])
        account = named.get(form.cleaned_data["account"])
        if account is None:
            self.audit_refusal(request, "refused: unknown or other desk's account")
            raise Http404(_("No such account."))
        symbol, quantity = form.cleaned_data["symbol"], form.cleaned_data["quantity"]
        symbol = Instrument.objects.filter(symbol__iexact=symbol).values_list("symbol", flat=True).first() or symbol
        held = Position.objects.filter(account=account, instrument__symbol=symbol).values_list("quantity", flat=True)
        # A form sent again after its order filled: answered as sent before, not as a stock not short.
        if (not held or held[0] >= 0) and not liquidation.key_placed(form.cleaned_data["key"], account.pk):
            why = _("%(account)s is not short %(symbol)s.") % {"account": account.account_no, "symbol": symbol}
            return self.refuse(request, back, why)
        try:
            orders = liquidation.place(
                user=request.user,
                account=account,
                # A buy, whatever the book became since the short was read above: never a sale.
                wanted=[liquidation.Wanted(symbol, quantity, side=liquidation.Side.BUY)],
                source=liquidation.Source.RECOVERY,
                key=form.cleaned_data["key"],
                detail={"recovery": True},
            )
        except liquidation.Refused as refused:
            return self.refuse(request, back, printable(str(refused)))
        say_placed(request, orders)
        return HttpResponseRedirect(back)


def with_rules(cases: list) -> list:
    """Each covered-call case with its shortfall from the book now (``rule``; None when covered)."""
    found = {
        (item.account_no, item.underlying): item
        for item in services.covered_calls_of([case.account_id for case in cases])
    }
    for case in cases:
        case.rule = found.get((case.account.account_no, case.underlying.symbol))
    return cases


def with_book_now(items: list, working: dict | None = None) -> list:
    """Each short-stock item with the book now, as the scan (every 15 minutes in trading hours) does not
    have it: ``short_now`` (what the position is short now), ``on_order`` (its working orders), ``to_buy``
    (what is still to recover: the item's quantity less what is on order and what was bought since the
    scan, rounded up to whole lots, or all that is free where that closes the short: an order the
    exchange takes) and ``free_now`` (the most a buy may order). Two queries, however many items (one
    when the caller has read the working orders: ``working``, as from ``working_quantities``)."""
    accounts = {item.account_id for item in items}
    held = {
        (account, instrument): quantity
        for account, instrument, quantity in Position.objects.filter(
            account_id__in=accounts, instrument_id__in={item.instrument_id for item in items}
        ).values_list("account_id", "instrument_id", "quantity")
    }
    if working is None:
        working = liquidation.working_quantities(accounts)
    for item in items:
        key = (item.account_id, item.instrument_id)
        item.short_now = max(0, -held.get(key, 0))
        item.on_order = working.get(key, 0)
        item.free_now = max(0, item.short_now - item.on_order)
        bought = max(0, item.short_quantity - item.short_now)
        rest = max(0, item.quantity - item.on_order - bought)
        item.to_buy = min(item.free_now, rules.up_to_lots(rest, item.instrument.lot_size))
    return items


def with_messages(rows: list, kind: str = "recovery") -> list:
    """Each short-stock item (or covered-call case, ``kind`` "covered_call") with ``message_status``:
    the status of the last message of that kind about its stock ("" if none)."""
    statuses = message_statuses({row.account_id for row in rows}, kind)
    for row in rows:
        # A message sent before messages kept their stock names none: it stands for all the account's rows.
        key = (row.account_id, row.stock.symbol)
        row.message_status = statuses.get(key, statuses.get((row.account_id, ""), ""))
    return rows


def message_statuses(account_ids, kind: str = "recovery") -> dict[tuple[int, str], str]:
    """Per account and stock: the status of its latest message of this kind (its worst delivery)."""
    from notices.models import Notice

    found = {}
    for notice in (
        Notice.objects.filter(account_id__in=list(account_ids), kind=kind, call__isnull=True)
        .order_by("account_id", "stock", "-created_at", "-pk")
        .prefetch_related("deliveries")
    ):
        if (notice.account_id, notice.stock) in found:
            continue
        statuses = {delivery.status for delivery in notice.deliveries.all()}
        found[notice.account_id, notice.stock] = next(
            (s for s in ("failed", "queued", "sending", "sent", "delivered") if s in statuses), ""
        )
    return found


def say_resolved(request, resolved: list) -> None:
    if resolved:
        messages.info(
            request,
            ngettext(
                "%(count)d selected was resolved meanwhile: left out.",
                "%(count)d selected were resolved meanwhile: left out.",
                len(resolved),
            )
            % {"count": len(resolved)},
        )


def _listed(rows) -> str:
    """Rows named by account and stock, the first LISTED of them."""
    return first_few((f"{row.account.account_no} {row.stock.symbol}" for row in rows), LISTED)


class MessageView(RecoverAction):
    """A message about stock to recover to the clients of the selected items (or a covered-call case):
    channels, the stock-recovery template or the trader's own text; sent as a notice."""

    def targeted_accounts(self, request, data):
        """The selected items and cases, unresolved and resolved; None if one selected is not there."""
        item_ids = {parse_id(v) for v in data["items"]}
        case_ids = {parse_id(v) for v in data["cases"]}
        items = list(
            ShortStockItem.objects.filter(pk__in=item_ids).select_related("account", "account__desk", "instrument")
        )
        cases = list(
            CoveredCallCase.objects.filter(pk__in=case_ids).select_related("account", "account__desk", "underlying")
        )
        if len(items) != len(item_ids) or len(cases) != len(case_ids):
            return None
        return items, cases

    def post(self, request):
        from notices import services as notices

        back = back_to(request, reverse("recovery:short-stock"))
        form = MessageForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, back, form_errors(form))
        targeted = self.targeted_accounts(request, form.cleaned_data)
        if targeted is None:
            self.audit_refusal(request, "refused: unknown case")
            raise Http404(_("No such case."))
        items, cases = targeted
        if not items and not cases:
            return self.refuse(request, back, _("Select what to send a message about."))
        visible = set(
            _visible_accounts(request.user)
            .filter(pk__in=[row.account_id for row in [*items, *cases]])
            .values_list("pk", flat=True)
        )
        if any(row.account_id not in visible for row in [*items, *cases]):
            self.audit_refusal(request, "refused: unknown or other desk's account")
            raise Http404(_("No such case."))
        resolved = [row for row in [*items, *cases] if row.resolved_at is not None]
        items = [item for item in items if item.resolved_at is None]
        cases = [case for case in cases if case.resolved_at is None]
        if not items and not cases:
            return self.refuse(request, back, _("What was selected has been resolved: no message was sent."))

        # A message names one stock: an account's first selected row (its items, then its cases, each
        # by stock). The account's other rows are left for another message, and stay as they are.
        def by_stock(row):
            return row.account.account_no, row.stock.symbol

        targets, named, left_out, nothing_left = {}, [], [], []
        for row in [*sorted(with_book_now(items), key=by_stock), *sorted(with_rules(cases), key=by_stock)]:
            # What the client has still to recover, from the book now: an item's rest to buy (less what
            # was bought since the scan and what is on order), a case's shortfall.
            quantity = row.to_buy if isinstance(row, ShortStockItem) else (row.rule.shortfall if row.rule else 0)
            if quantity <= 0:  # covered, or all of it on order, since the scan: nothing to ask for
                nothing_left.append(row)
                continue
            if row.account_id in targets:
                left_out.append(row)
                continue
            kind = "recovery" if isinstance(row, ShortStockItem) else "covered_call"
            targets[row.account_id] = (row.account, row.stock.symbol, quantity, row.due, kind)
            named.append(row)
        if nothing_left:
            messages.info(
                request,
                _("Nothing is left to recover (covered, or all of it on order), so no message: %(rows)s.")
                % {"rows": _listed(nothing_left)},
            )
        if not targets:
            say_resolved(request, resolved)
            return HttpResponseRedirect(back)
        wanted = [
            notices.AccountMessage(
                account,
                {
                    "stock": symbol,
                    "quantity": f"{quantity:,}",
                    "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M"),
                },
                kind=kind,
            )
            for account, symbol, quantity, due, kind in targets.values()
        ]
        try:
            written = notices.send_to_accounts(
                user=request.user,
                messages=wanted,
                channels=form.cleaned_data["channels"],
                kind="recovery",
                text=form.cleaned_data["text"],
                key=form.cleaned_data["key"],
            )
        except notices.Refused as refused:
            return self.refuse(request, back, printable(str(refused)))
        now = timezone.now()
        messaged = {notice.account_id for notice in written}  # none when the form was sent before
        for model in (ShortStockItem, CoveredCallCase):
            model.objects.filter(
                pk__in=[row.pk for row in named if isinstance(row, model) and row.account_id in messaged],
                status=CaseStatus.OPEN,
                resolved_at__isnull=True,
            ).update(status=CaseStatus.CONTACTED, updated_at=now)
        say_queued(request, asked=bool(wanted), written=written)
        if left_out:
            listed = _listed(left_out)
            messages.warning(
                request,
                ngettext(
                    "Left out, as a message names one stock of an account: %(rows)s. Send another message for it.",
                    "Left out, as a message names one stock of an account: %(rows)s. Send another message for each.",
                    len(left_out),
                )
                % {"rows": listed},
            )
        say_resolved(request, resolved)
        return HttpResponseRedirect(back)
