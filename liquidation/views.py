"""The liquidation pages: the panel on a call's details (plan, orders in progress, liquidate, cancel),
the Liquidation Orders list, and the actions."""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views import View

from book.book_format import printable
from book.models import InstrumentStatus, Position
from book.times import on_local_day
from book.trading_calendar import is_trading, next_trading
from console import audit, streams
from console import typed as typed_memory
from console.fields import OUT_OF_DATE, form_errors, parse_id
from console.lists import COUNT_LIMIT, ListPage, Selection
from console.permissions import ConsoleMixin, can, can_view
from console.querysets import visible_desks
from console.redirects import back_to
from console.text import first_few
from risk.calculations import MissingFxRate, round_figures, round_money
from risk.call_views import head_context
from risk.models import MarginCall

from . import auto, live, prices, services, tasks
from . import plan as planning
from .forms import ORDER_SORTS, BatchForm, OrderFilterForm
from .models import WORKING, Batch, BatchItem, LiquidationSwitch, Order, OrderType

KEY_ALPHABET = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def orders_context(request, *, call, account, planned=None) -> dict:
    """The call's orders in progress: its orders (and the account's working ones), the value in working
    orders, the call amount they remove once filled and what is left after them. ``planned`` is the
    account's (plan, book) when the caller has it already."""
    orders = list(
        Order.objects.filter(account=account)
        .filter(Q(status__in=WORKING) | Q(call=call))
        .select_related("instrument", "created_by")
        .order_by("-created_at", "-pk")[:50]
    )
    working = [order for order in orders if order.is_working]
    context = {
        "call": call,
        "orders": orders,
        "working": working,
        "next": request.GET.get("next") or request.get_full_path(),
        "rendered_ms": int(timezone.now().timestamp() * 1000),
    }
    if call.is_open and working:
        book = planned[1] if planned else services.account_book(account)
        current = account.risk.call_amount if hasattr(account, "risk") else None
        try:
            # Every working order filled, those priced far from the market too (the plan counts only the
            # others): what the cards say "once filled".
            filled, _left, _covers = planning.project(
                account=book.terms,
                cash=book.cash,
                lines=[replace(line, filling=None) for line in book.lines],
                fx=book.fx,
                settings=services.plan_settings(account),
                orders={},
            )
        except MissingFxRate:  # the panel says why there is no plan
            return context
        before = round_figures(filled)
        context.update(
            {
                "working_value": round_money(
                    sum((services.hkd_value(o.instrument, o.remaining, book.fx) for o in working), Decimal(0))
                ),
                "working_removes": None if current is None else max(Decimal(0), current - before.call_amount),
                "left_after_working": before.call_amount,
            }
        )
    return context


def typed_key(call) -> str:
    """Where the session keeps a refused liquidation form's values until the call's page shows them."""
    return f"liquidation-typed:{call.pk}"


def call_panel(request, *, call, account) -> str | None:
    """The call details' liquidation panel: orders in progress with cancel (live); the plan with each
    line's free quantity and the fewest shares of it alone that would cover; liquidate."""
    if not can_view(request.user):
        return None
    typed = typed_memory.take(request, typed_key(call))  # {symbol: [quantity, price]} of a refused form
    planned, no_plan = None, ""
    try:
        planned = services.account_plan(account, per_line=True) if call.is_open else None
    except MissingFxRate as error:
        no_plan = services.no_fx_rate(error)
    context = orders_context(request, call=call, account=account, planned=planned)
    context["no_plan"] = no_plan
    context["debit_has_no_position"] = services.DEBIT_HAS_NO_POSITION
    context["automatic_off"] = call.is_open and not LiquidationSwitch.automatic_on()
    # A time outside HKEX's continuous trading (a session's close, a night): the plan waits for the next.
    if call.auto_liquidate_at is not None:
        context["auto_waits_for_trading"] = auto.acted_on(call.auto_liquidate_at) != call.auto_liquidate_at
        # Acted on after the deadline: where the rule set liquidates past the deadline, that comes first.
        if call.is_open:
            first, left = auto.after_deadline([call], call.auto_liquidate_at)
            context["auto_after_deadline"] = "first" if first else "left" if left else ""
            context["auto_deadline_acted"] = first[0][1] if first else None
    if planned is not None:
        result, book = planned
        rules = services.rule_set(account.kind)
        chosen = {order.symbol: order.quantity for order in result.orders}
        now = timezone.now()
        # While the exchange trades, a last price older than the rule set's price age is marked: the
        # default limit follows it, and it may be far from the market.
        old = services.old_prices([line.symbol for line in book.lines], rules)
        lines = []
        for line in book.lines:
            instrument = book.instruments[line.symbol]
            cover = result.lines.get(line.symbol)
            lines.append(
                {
                    "symbol": line.symbol,
                    "name": instrument.name,
                    "side": line.side,
                    "quantity": line.quantity,
                    "lot": line.lot_size,
                    "working": line.working,
                    "away": line.working - line.expected,  # priced far from the market: not counted
                    "free": line.free,
                    "tradable": line.tradable,
                    "status": _("Expired")
                    if line.expired
                    else instrument.get_status_display()
                    if instrument.price > 0
                    else _("No last price"),
                    "last": instrument.price,
                    "price_at": _price_time(old[line.symbol], now) if old.get(line.symbol) else "",
                    "currency": instrument.currency,
                    "covering": cover.covering_quantity if cover else None,
                    "planned": chosen.get(line.symbol, 0),
                    "price": None  # no last price: the trader gives the limit
                    if instrument.price <= 0
                    else prices.default_limit(
                        instrument.price, side=line.side, band=rules.price_band, hkex=prices.on_spread_table(instrument)
                    ),
                }
            )
            if typed and line.symbol in typed:
                lines[-1]["planned"], lines[-1]["price"] = typed[line.symbol]
        context.update(
            {
                "plan": result,
                "projected": round_figures(result.figures),
                "plan_value": round_money(result.value),
                "lines": lines,
                "price_age_minutes": rules.max_price_age_minutes,
                "key": secrets.token_urlsafe(16),
                "auto_form": BatchForm(),
                "typed": bool(typed),
            }
        )
    return render_to_string("liquidation/_call_panel.html", context, request=request)


async def order_events(request):
    """Server-sent events: ``orders`` with the ids of orders that changed (every order of the user's
    desks, or with ``?call=ID`` that call's), as they change (:mod:`console.streams`)."""
    call = request.GET.get("call")
    if call is not None:
        if parse_id(call) is None:
            raise Http404(_("No such call."))
        call = str(parse_id(call))  # the kind events are matched by: "007" is call 7
    return await streams.serve(request, live.ORDERS, call, _orders_changed_for, sees=_sees_call)


def _sees_call(user, call: str) -> bool:
    return MarginCall.objects.visible_to(user).filter(pk=int(call)).exists()


def _orders_changed_for(user, kind, since) -> set[int] | None:
    orders = Order.objects.visible_to(user)
    if kind is not None:
        orders = orders.filter(call_id=int(kind))
    return streams.changed_ids(orders, since)


# A quantity as typed: digits, or digits grouped by thousands (1,500); 1,0,0 is not 100.
GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")


def quantity_problem(symbol: str, text: str) -> str | None:
    """Why a typed quantity (its digits, :func:`quantity_digits`) cannot be sent, or None."""
    if not (text.isascii() and text.isdigit()):
        return _("%(symbol)s: the quantity must be a whole number above 0.") % {"symbol": symbol[:32]}
    if len(text) > 15:  # no position holds as many; no column stores as many digits
        return _("%(symbol)s: the quantity is too large (%(digits)d digits; at most 15).") % {
            "symbol": symbol[:32],
            "digits": len(text),
        }
    return None


def quantity_digits(typed: str) -> str:
    """The digits of a typed quantity with its thousands commas taken out; text with commas anywhere
    else comes back as typed, which no quantity check accepts."""
    text = typed.strip()
    return text.replace(",", "") if GROUPED.fullmatch(text) else text


class CallOrdersView(ConsoleMixin, View):
    """The live part of a call's liquidation panel: its orders in progress, fetched again as they change."""

    def get(self, request, pk):
        call = (
            MarginCall.objects.visible_to(request.user).select_related("account", "account__risk").filter(pk=pk).first()
        )
        if call is None:
            raise Http404(_("No such call."))
        context = orders_context(request, call=call, account=call.account)
        context["changed"] = streams.marked(request.GET.get("changed", ""))
        # The call's head comes along: a fill has moved its figures (recomputed in the fill's transaction).
        context |= {**head_context(call, timezone.now()), "head": True}
        return render(request, "liquidation/_call_orders.html", context)


class CallLiquidateView(ConsoleMixin, View):
    """Place orders on a call's account: the quantities and prices the trader confirmed (the plan's by
    default). A form sent twice carries the same key and places one set of orders."""

    http_method_names = ["post"]
    action = "liquidate"
    permission = services.LIQUIDATE

    def targeted_calls(self, request):
        pk = self.kwargs.get("pk")
        return [pk] if pk is not None else []

    def post(self, request, pk):
        call = MarginCall.objects.visible_to(request.user).select_related("account").filter(pk=pk).first()
        if call is None:
            self.audit_refusal(request, "refused: unknown or other desk's call")
            raise Http404(_("No such call."))
        back = back_to(request, reverse("risk:call", args=[call.pk]))
        key = request.POST.get("key", "")
        if not (8 <= len(key) <= 64 and set(key) <= KEY_ALPHABET):
            self.audit_refusal(request, "refused: the form's key is out of date")
            messages.error(request, OUT_OF_DATE)
            return HttpResponseRedirect(back)
        try:
            wanted = self.wanted(request)
            orders = services.place(user=request.user, account=call.account, wanted=wanted, call=call, key=key)
        except services.Refused as refused:
            # Printable: a refusal may quote what was sent (a symbol with a NUL, say).
            said = printable(str(refused))
            self.audit_refusal(request, f"refused: {said}"[:200])
            messages.error(request, said)
            # The form comes back as the trader typed it, to correct what was refused.
            typed_memory.keep(
                request,
                typed_key(call),
                {
                    printable(symbol[:32]): [
                        printable(request.POST.get(f"quantity:{symbol}", "")[:20]),
                        printable(request.POST.get(f"price:{symbol}", "")[:20]),
                    ]
                    for symbol in request.POST.getlist("symbol")[:200]
                },
            )
            return HttpResponseRedirect(back)
        say_placed(request, orders)
        return HttpResponseRedirect(back)

    @staticmethod
    def wanted(request) -> list[services.Wanted]:
        wanted = []
        symbols = request.POST.getlist("symbol")[:200]
        for symbol in symbols:
            text = quantity_digits(request.POST.get(f"quantity:{symbol}", ""))
            if not text or text == "0":
                continue
            if not symbol.strip():
                raise services.Refused(_("A quantity was sent without its stock: reload the page and try again."))
            if problem := quantity_problem(symbol, text):
                raise services.Refused(problem)
            price = limit_price(symbol, request.POST.get(f"price:{symbol}", ""))
            wanted.append(services.Wanted(symbol, int(text), price, OrderType.LIMIT))
        if not wanted:
            raise services.Refused(_("There is nothing to order."))
        return wanted


def limit_price(symbol: str, text: str) -> Decimal | None:
    """The limit price typed for a stock (None: none typed, the default limit); Refused if it is no number."""
    text = text.strip()
    if not text:
        return None
    try:
        price = Decimal(text) if text.isascii() and len(text) <= 20 else None
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite():
        raise services.Refused(_("%(symbol)s: the limit price is not a number.") % {"symbol": symbol[:32]})
    return price


class CancelOrdersView(ConsoleMixin, View):
    """Cancel the selected orders (from a call's details or the Liquidation Orders page)."""

    http_method_names = ["post"]
    action = "cancel_order"
    permission = services.CANCEL_ORDER

    def targeted_calls(self, request) -> list[int]:
        """The calls of the orders a request names (for the audit log of a refusal)."""
        ids = [pk for pk in map(parse_id, request.POST.getlist("orders")[:1000]) if pk is not None]
        return sorted(set(Order.objects.filter(pk__in=ids, call__isnull=False).values_list("call_id", flat=True)))

    def post(self, request):
        back = back_to(request, reverse("liquidation:orders"))
        sent = request.POST.getlist("orders")[:1000]
        ids = [pk for pk in map(parse_id, sent) if pk is not None]
        if not sent:
            messages.error(request, _("Select orders to cancel."))
            return HttpResponseRedirect(back)
        orders = list(Order.objects.visible_to(request.user).filter(pk__in=ids).select_related("instrument"))
        if len(ids) != len(sent) or len(orders) != len(set(ids)):  # a value that is no order's key names none
            self.audit_refusal(request, "refused: unknown or other desk's order")
            raise Http404(_("No such order."))
        outcomes = services.cancel(user=request.user, orders=orders)
        for level, text in services.said_of_cancels(outcomes):
            getattr(messages, level)(request, text)
        return HttpResponseRedirect(back)


class OrderListView(ListPage):
    """Every liquidation order the user's desks may see: filters, sort, pages, cancel, CSV."""

    form_class = OrderFilterForm
    template_name = "liquidation/order_list.html"
    partial = "order-list"
    sorts = ORDER_SORTS
    default_sort = "-created"
    tiebreak = "-pk"
    count_limit = COUNT_LIMIT
    csv_name = "liquidation-orders"

    dropped_from_query = ("page", "changed", "format")

    def get_form(self, request):
        return OrderFilterForm(request.GET, desks=list(visible_desks(request.user).only("code", "name")))

    def select(self, request, values, now):
        orders = Order.objects.visible_to(request.user).select_related("account", "instrument", "created_by", "call")
        if values.get("desk"):
            orders = orders.filter(desk__code=values["desk"])
        if values.get("q"):
            orders = orders.filter(account__account_no__istartswith=values["q"].strip())
        if values.get("symbol"):
            orders = orders.filter(instrument__symbol__iexact=values["symbol"].strip())
        if values.get("status") == "working":
            orders = orders.filter(status__in=WORKING)
        elif values.get("status"):
            orders = orders.filter(status=values["status"])
        if values.get("source"):
            orders = orders.filter(source=values["source"])
        if values.get("by"):
            by = values["by"].strip()
            # What the page shows for an order no user placed (auto-liquidation), in any of its languages.
            system = by.casefold() in {word.casefold() for word in system_words()}
            orders = orders.filter(
                Q(created_by__username=by) | Q(created_by__isnull=True) if system else Q(created_by__username=by)
            )
        if values.get("day"):
            orders = orders.filter(**on_local_day("created_at", values["day"]))
        return Selection(rows=orders, extra={"working_count": orders.filter(status__in=WORKING).count()})

    def row_values(self, rows, values, now, selection):
        changed = streams.marked(self.request.GET.get("changed", ""))
        for order in with_average_fill_prices(rows):
            order.changed = order.pk in changed

    def csv_chunk(self, orders):
        return with_average_fill_prices(orders)

    def context(self, request, values, now, selection):
        return {
            "can_cancel": can(request.user, services.CANCEL_ORDER),
            "batches": list(Batch.objects.filter(created_by=request.user)[:5]),
            "rendered_ms": int(now.timestamp() * 1000),
        }

    def csv_header(self):
        return [
            _("Order"),
            _("Account"),
            _("Stock"),
            _("Side"),
            _("Quantity"),
            _("Filled"),
            _("Status"),
            _("Type"),
            _("Limit price"),
            _("Average fill price"),
            _("Source"),
            _("By"),
            _("Created at"),
            _("Reason rejected"),
            pgettext("a margin call", "Call"),
        ]

    def csv_row(self, order, now):
        return [
            order.pk,
            order.account.account_no,
            order.instrument.symbol,
            order.get_side_display(),
            order.quantity,
            order.filled_quantity,
            order.get_status_display(),
            order.type_label(),
            as_quoted(order.limit_price),
            as_quoted(order.average_fill_price),
            order.get_source_display(),
            order.created_by.get_username() if order.created_by else _("system"),
            timezone.localtime(order.created_at).isoformat(),
            order.reject_reason,
            order.call_id or "",
        ]


def system_words() -> set[str]:
    """ "system", as the orders list names who placed an automatic order, in every language."""
    words = set()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            words.add(str(_("system")))
    return words


def as_quoted(price) -> str:
    """A price in a file as the exchange quotes it (34.15, not the column's 34.150000); none: empty."""
    return "" if price is None else f"{price.normalize():f}"


def with_average_fill_prices(orders: list) -> list:
    """These orders, each with its average fill price (None if unfilled), read in one query."""
    averages = services.average_fill_prices(order.pk for order in orders)
    for order in orders:
        order.average_fill_price = averages.get(order.pk)
    return orders


def batch_panel(request, *, tab: str) -> str | None:
    """The Risk Warning batch bar's liquidation part: liquidate the selected calls (optionally only
    some stocks), or set their auto-liquidation."""
    if tab != "active" or not can(request.user, services.LIQUIDATE):
        return None
    return render_to_string(
        "liquidation/_batch_bar.html",
        {
            "key": secrets.token_urlsafe(16),
            "batch_form": BatchForm(),
            "automatic_off": not LiquidationSwitch.automatic_on(),
        },
        request=request,
    )


def _accounts_named(call_ids, shown: int = 5) -> str:
    """The account numbers of these calls, the first ``shown`` of them."""
    return first_few(
        sorted(MarginCall.objects.filter(pk__in=call_ids).values_list("account__account_no", flat=True)), shown
    )


def not_started(request) -> None:
    messages.warning(
        request,
        _(
            "The batch is saved but could not be started now: the task queue cannot be reached. It starts by "
            "itself within a few minutes of the queue coming back."
        ),
    )


class BatchView(ConsoleMixin, View):
    """Liquidate the selected calls' accounts by their plans, or set (clear) their auto-liquidation."""

    http_method_names = ["post"]
    action = "liquidate"
    permission = services.LIQUIDATE

    def targeted_calls(self, request) -> list[int]:
        return [pk for pk in map(parse_id, request.POST.getlist("calls")[:1000]) if pk is not None]

    def post(self, request):
        form = BatchForm(with_only_joined(request.POST))
        back = back_to(request, reverse("risk:warning"))
        if not form.is_valid():
            errors = form_errors(form)
            self.audit_refusal(request, f"refused: {errors}"[:200])
            messages.error(request, errors)
            typed_memory.keep_batch(request, back)
            return HttpResponseRedirect(back)
        wanted = form.cleaned_data["calls"]
        calls = list(
            MarginCall.objects.visible_to(request.user)
            .filter(pk__in=wanted)
            .select_related("account", "account__desk")
            .order_by("pk")
        )
        if len(calls) != len(set(wanted)):
            self.audit_refusal(request, "refused: unknown or other desk's call")
            raise Http404(_("No such call."))
        action = form.cleaned_data["action"]
        if action == "liquidate":
            return self.liquidate(request, calls, form.cleaned_data["only"], form.cleaned_data["key"])
        else:
            at = form.cleaned_data["at"] if action == "auto" else None
            passed: list = []
            marked: list = []
            changed = auto.set_time(
                user=request.user,
                calls=calls,
                at=at,
                at_deadline=action == "auto_deadline",
                past_deadline=passed,
                exceptions=marked,
            )
            done = (
                ngettext(
                    "Auto-liquidation cleared on %(count)d call.",
                    "Auto-liquidation cleared on %(count)d calls.",
                    len(changed),
                )
                if action == "auto_clear"
                else ngettext(
                    "Auto-liquidation set on %(count)d call.", "Auto-liquidation set on %(count)d calls.", len(changed)
                )
            )
            if changed:  # none changed: the warnings below say why, alone
                messages.success(request, done % {"count": len(changed)})
            if changed and action != "auto_clear" and not LiquidationSwitch.automatic_on():
                messages.warning(
                    request,
                    _(
                        "Automatic liquidation is switched off by the risk admins: the time is kept, and acted on "
                        "only once they turn it on again."
                    ),
                )
            if changed and action == "auto":
                say_if_auto_waits(request, at)
                say_if_after_deadline(request, changed, at)
            elif changed and action == "auto_deadline":  # the first deadline outside trading, if any
                for moment in sorted({call.auto_liquidate_at for call in changed}):
                    if say_if_auto_waits(request, moment):
                        break
            if passed:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d call is past its deadline (%(accounts)s): left as it is. Liquidate it now, or "
                        "set a time from now.",
                        "%(count)d calls are past their deadline (%(accounts)s): left as they are. Liquidate them "
                        "now, or set a time from now.",
                        len(passed),
                    )
                    % {"count": len(passed), "accounts": _accounts_named([call.pk for call in passed])},
                )
            if marked:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d call is marked exception (%(accounts)s): no time is set on it. Make it active "
                        "first.",
                        "%(count)d calls are marked exception (%(accounts)s): no time is set on them. Make them "
                        "active first.",
                        len(marked),
                    )
                    % {"count": len(marked), "accounts": _accounts_named([call.pk for call in marked])},
                )
            if closed := len(calls) - len(changed) - len(passed) - len(marked):
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d call has closed: left as it is.",
                        "%(count)d calls have closed: left as they are.",
                        closed,
                    )
                    % {"count": closed},
                )
        return HttpResponseRedirect(back)

    @staticmethod
    def liquidate(request, calls, only, key):
        """Start a batch in the background and go to its page (the same form sent twice: the same batch)."""
        # The batch and its calls in one transaction: the same form sent again meanwhile waits for both,
        # so it finds the same calls (not a batch without them).
        with transaction.atomic():
            batch, created = Batch.objects.get_or_create(
                key=key,
                defaults={
                    "created_by": request.user,
                    "only": only or [],
                    "total": len(calls),
                },
            )
            if created:
                BatchItem.objects.bulk_create(BatchItem(batch=batch, call=call) for call in calls)
        if not created and (
            batch.created_by_id != request.user.pk
            or set(batch.items.values_list("call_id", flat=True)) != {call.pk for call in calls}
        ):
            # A key already used for another batch (another user's, or other calls): nothing is started,
            # and the trader is not sent to a batch that is not theirs.
            audit.record(
                request.user, "liquidate_batch", calls=[call.pk for call in calls], outcome="refused: key already used"
            )
            messages.error(request, _("This form was already used for another batch; reload the page and try again."))
            return HttpResponseRedirect(back_to(request, reverse("risk:warning")))
        if created:
            audit.record(
                request.user,
                "liquidate_batch",
                calls=[call.pk for call in calls],
                detail={"batch": batch.pk, "only": only or []},
            )
            # The batch has committed (the block above): the worker finds it. If the queue cannot take it,
            # the trader is told now, and the sweep starts it later.
            if not tasks.start_batch(batch.pk):
                not_started(request)
            say_if_hkex_shut(request)
        return HttpResponseRedirect(reverse("liquidation:batch-detail", args=[batch.pk]))


class BatchDetailView(ConsoleMixin, View):
    """A batch's progress and each call's outcome (only the calls of the user's desks)."""

    def get(self, request, pk):
        batch = Batch.objects.select_related("created_by").filter(pk=pk).first()
        if batch is None:
            raise Http404(_("No such batch."))
        visible = MarginCall.objects.visible_to(request.user).values("pk")
        items = list(batch.items.filter(call__in=visible).select_related("call__account").order_by("pk")[:2000])
        if not items and batch.created_by_id != request.user.pk:  # none of it is the user's to see
            raise Http404(_("No such batch."))
        context = {"batch": batch, "items": items, "hidden": batch.total - len(items)}
        template = "liquidation/batch.html#progress" if request.htmx else "liquidation/batch.html"
        return render(request, template, context)


class PreviewView(ConsoleMixin, View):
    """The figures after the quantities in the liquidation form fill: the form asks as they change."""

    http_method_names = ["get"]

    def get(self, request, pk):
        call = MarginCall.objects.visible_to(request.user).select_related("account").filter(pk=pk).first()
        if call is None:
            raise Http404(_("No such call."))
        book = services.account_book(call.account)
        lines = {line.symbol: line for line in book.lines}
        rules = services.rules_by_kind()
        quantities, problems = {}, []
        for symbol in request.GET.getlist("symbol")[:200]:
            line = lines.get(symbol)
            text = quantity_digits(request.GET.get(f"quantity:{symbol}", ""))
            if line is None or not text:
                continue
            if problem := quantity_problem(symbol, text):
                problems.append(problem)
                continue
            quantity = int(text)
            if quantity > line.free:
                problems.append(_("%(symbol)s: at most %(free)s free.") % {"symbol": symbol, "free": line.free})
                quantity = line.free
            elif quantity % line.lot_size and line.working + quantity != abs(line.quantity):
                problems.append(_("%(symbol)s: whole lots of %(lot)s.") % {"symbol": symbol, "lot": line.lot_size})
            # The limit price typed beside it, judged as placing it would: said now, not only on Place.
            try:
                price = limit_price(symbol, request.GET.get(f"price:{symbol}", ""))
                if price is not None and quantity:
                    services.check_limit(book.instruments[symbol], line.side, price, rules[call.account.kind])
            except services.Refused as refused:
                problems.append(str(refused))
            quantities[symbol] = quantity
        try:
            figures, _left, covers = planning.project(
                account=book.terms,
                cash=book.cash,
                lines=book.lines,
                fx=book.fx,
                settings=services.plan_settings(call.account),
                orders=quantities,
            )
            value = sum(
                (
                    services.hkd_value(book.instruments[symbol], quantity, book.fx)
                    for symbol, quantity in quantities.items()
                ),
                Decimal(0),
            )
        except MissingFxRate as error:
            context = {"projected": None, "problems": [services.no_fx_rate(error)]}
            return render(request, "liquidation/_projection.html", context)
        context = {
            "projected": round_figures(figures),
            "value": round_money(value),
            "covers": covers,
            "problems": [printable(problem) for problem in problems],
        }
        return render(request, "liquidation/_projection.html", context)


def with_only_joined(data):
    """The batch bar's "only these stocks": the typed text and the chooser's ticked stocks, as one."""
    joined = data.copy()
    joined["only"] = " ".join(value for value in data.getlist("only")[:200] if value)
    return joined


class BatchPreviewView(ConsoleMixin, View):
    """What a batch would do, per selected call: the orders, the value, whether they cover."""

    http_method_names = ["get"]
    MAX_CALLS = 200
    MAX_STOCKS = 60  # the chooser's stocks: the most held among the selected calls

    def get(self, request):
        ids = [pk for pk in map(parse_id, request.GET.getlist("calls")[: self.MAX_CALLS]) if pk is not None]
        form = BatchForm({"only": with_only_joined(request.GET).get("only", "")})
        form.is_valid()
        only_ok = "only" not in form.errors
        only = form.cleaned_data.get("only") if only_ok else None
        calls = list(
            MarginCall.objects.visible_to(request.user)
            .filter(pk__in=ids, closed_at__isnull=True)
            .select_related("account")
            .order_by("-call_amount", "pk")
        )
        # Stocks that are not valid show no plan: the whole book's would pass for the stocks asked for.
        plans = services.plan_accounts([call.account for call in calls], only=only) if only_ok else {}
        held = (
            Position.objects.filter(
                account_id__in=[call.account_id for call in calls], instrument__status=InstrumentStatus.NORMAL
            )
            .exclude(quantity=0)
            .values("instrument__symbol", "instrument__name")
            .annotate(holders=Count("account_id"))
            .order_by("-holders", "instrument__symbol")[: self.MAX_STOCKS]
        )
        ordered = defaultdict(set)  # the plans' stocks by account kind (its rule set's price age)
        for call in calls:
            ordered[call.kind].update(order.symbol for order in getattr(plans.get(call.account.pk), "orders", ()))
        rules = services.rules_by_kind()
        old = {}  # a stock planned on calls of several kinds is named once
        for kind, symbols in ordered.items():
            old.update(services.old_prices(symbols, rules[kind]))
        old_prices_said = said_with_times(old)
        rows = [
            {
                "call": call,
                "plan": plans[call.account.pk],
                "value": round_money(plans[call.account.pk].value),
                "no_plan": getattr(plans[call.account.pk], "reason", ""),
            }
            if only_ok
            else {"call": call}
            for call in calls
        ]
        context = {
            "rows": rows,
            "only": only or [],
            "only_error": printable("; ".join(form.errors.get("only", []))),
            "old_prices": old_prices_said,
            "covering": sum(row["plan"].covers for row in rows if "plan" in row),
            "total_value": round_money(sum((row["plan"].value for row in rows if "plan" in row), Decimal(0))),
            "more": len(request.GET.getlist("calls")) > self.MAX_CALLS,
            "held": [
                {
                    "symbol": row["instrument__symbol"],
                    "name": row["instrument__name"],
                    "holders": row["holders"],
                    "chosen": row["instrument__symbol"] in (only or []),
                }
                for row in held
            ],
        }
        return render(request, "liquidation/_batch_preview.html", context)


def say_placed(request, orders: services.Placed) -> None:
    """What a placement from a form answers: the orders placed, or, for a form sent again (a double
    click, a page resent), that nothing more was placed."""
    count = len(orders)
    if orders.again:
        messages.info(
            request,
            ngettext(
                "This form was already sent: its %(count)d order stands; nothing more was placed.",
                "This form was already sent: its %(count)d orders stand; nothing more was placed.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.success(
            request, ngettext("%(count)d order placed.", "%(count)d orders placed.", count) % {"count": count}
        )
        if any(order.instrument.currency == "HKD" for order in orders):
            say_if_hkex_shut(request)
        say_if_prices_old(request, orders)


def said_with_times(old: dict) -> str:
    """ "5.HK (10:02), 8.HK (2026-12-04 16:08)"."""
    now = timezone.now()
    return ", ".join(f"{symbol} ({_price_time(at, now)})" for symbol, at in old.items())


def _price_time(at, now) -> str:
    if at is None:
        return _("no time")
    local = timezone.localtime(at)
    return local.strftime("%H:%M" if local.date() == timezone.localtime(now).date() else "%Y-%m-%d %H:%M")


def say_if_prices_old(request, orders) -> None:
    """Warn that the limits of these orders were set from old prices: they may be far from the market."""
    limits = [order for order in orders if order.order_type == OrderType.LIMIT]
    if not limits:
        return
    rules = services.rule_set(limits[0].account.kind)
    if old := services.old_prices({order.instrument.symbol for order in limits}, rules):
        messages.warning(
            request,
            _(
                "The last price of %(stocks)s is older than %(minutes)d minutes: check the market against the orders' limits."  # noqa: E501
            )
            % {"stocks": said_with_times(old), "minutes": rules.max_price_age_minutes},
        )


def say_if_hkex_shut(request) -> None:
    """Warn that HKEX is not in continuous trading now: the orders wait at the exchange. The simulated
    exchange that trades at any time (the demo) says nothing."""
    now = timezone.now()
    if settings.SIMULATED_EXCHANGE_ALWAYS_OPEN or is_trading(now):
        return
    messages.warning(
        request,
        _("HKEX is not in continuous trading now: the orders wait at the exchange until it resumes (%(when)s).")
        % {"when": _minute(next_trading(now))},
    )


def say_if_auto_waits(request, at) -> bool:
    """Warn that an auto-liquidation time is outside HKEX's continuous trading (a lunch break, a night, a
    holiday): the plan waits for trading to resume (unless ``AUTO_LIQUIDATION_ANY_TIME``). Whether it
    warned."""
    when = auto.acted_on(at)
    if when == at:
        return False
    messages.warning(
        request,
        _("%(at)s is outside HKEX continuous trading: the plan is placed when trading resumes (%(when)s).")
        % {"at": _minute(at), "when": _minute(when)},
    )
    return True


def say_if_after_deadline(request, calls: list[MarginCall], at) -> None:
    """Warn of calls whose deadline comes before an auto-liquidation time would be acted on: where their
    rule set liquidates past the deadline, that comes first; else the call stays open past its deadline
    until the time."""
    first, left = auto.after_deadline(calls, at)
    if first:
        messages.warning(
            request,
            ngettext(
                "%(count)d call's deadline comes before %(at)s (%(accounts)s): its rule set liquidates calls past "
                "their deadline, so its plan is placed once the deadline has passed, in continuous trading, "
                "before this time.",
                "%(count)d calls' deadlines come before %(at)s (%(accounts)s): their rule sets liquidate calls "
                "past their deadline, so their plans are placed once the deadline has passed, in continuous "
                "trading, before this time.",
                len(first),
            )
            % {"count": len(first), "at": _minute(at), "accounts": _accounts_named([call.pk for call, _ in first])},
        )
    if left:
        messages.warning(
            request,
            ngettext(
                "%(at)s is after the deadline of %(count)d call (%(accounts)s): it stays open past its deadline "
                "until then, unless a trader liquidates it first.",
                "%(at)s is after the deadline of %(count)d calls (%(accounts)s): they stay open past their "
                "deadline until then, unless a trader liquidates them first.",
                len(left),
            )
            % {"count": len(left), "at": _minute(at), "accounts": _accounts_named([call.pk for call in left])},
        )


def _minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"
