"""Automatic liquidation: a trader sets a time on calls (or "at the deadline"); every minute beat
places the plan of each call whose time has come, under guards:

- the risk admins' switch is on (:class:`~liquidation.models.LiquidationSwitch`);
- the call is still open and not an exception;
- XHKG is in continuous trading (``AUTO_LIQUIDATION_ANY_TIME`` lifts this, for the demo);
- no price of an HKEX stock the plan trades is older than the rule set's limit (default 5 minutes);
- never twice for one setting: the orders carry a key made of the call and the time set, so a second
  run, or two workers at once, place nothing more.

A call past its deadline is due too when its rule set lets calls past their deadline be liquidated
automatically. A skipped run writes why on the call (the lists show it) and is retried at the next
check; a run that places writes what it placed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext_lazy

from book.models import HKD, Instrument
from book.trading_calendar import is_trading, next_trading
from console import audit
from console.text import Said, every_language, joined, say
from risk import calls as call_locks
from risk import live
from risk.models import CallStatus, CallType, MarginCall, RuleSet

from . import services
from .models import LiquidationSwitch, Order, Source

logger = logging.getLogger(__name__)


def setting_key(call: MarginCall, moment: datetime) -> str:
    return f"auto-{call.pk}-{int(moment.timestamp())}"


def set_time(
    *,
    user,
    calls: list[MarginCall],
    at: datetime | None,
    at_deadline: bool = False,
    past_deadline: list | None = None,
    exceptions: list | None = None,
) -> list[MarginCall]:
    """Set (or, with neither ``at`` nor ``at_deadline``, clear) the auto-liquidation time of open calls,
    each as it is once locked: a call closed meanwhile is left, and "at the deadline" is its deadline
    then (another trader may have moved it since the page was drawn). A call whose deadline has passed
    is left too, and added to ``past_deadline``: "at the deadline" would liquidate it within a minute,
    which a time typed in the past is refused for. A call marked exception gets no time (added to
    ``exceptions``): marking clears it, and a time kept there would place its orders the minute the call
    is made active again, however long ago it came."""
    with transaction.atomic():
        locked = list(call_locks.locked([call.pk for call in calls]))
        now = timezone.now()
        changed, passed, marked = [], [], []
        setting = at is not None or at_deadline
        for call in locked:
            if not call.is_open:
                continue
            if setting and call.status == CallStatus.EXCEPTION:
                marked.append(call)
                continue
            if at_deadline and call.deadline <= now:
                passed.append(call)
                continue
            call.auto_liquidate_at = call.deadline if at_deadline else at
            call.auto_liquidation_note = {}
            call.updated_at = now
            changed.append(call)
        MarginCall.objects.bulk_update(changed, ["auto_liquidate_at", "auto_liquidation_note", "updated_at"])
        when = "deadline" if at_deadline else (at.isoformat() if at else None)
        closed = sorted({call.pk for call in calls} - {call.pk for call in [*changed, *passed, *marked]})
        audit.record(
            user,
            "set_auto_liquidation",
            calls=[call.pk for call in calls],
            detail={
                "at": when,
                "changed": [call.pk for call in changed],
                **({"closed": closed} if closed else {}),
                **({"past_deadline": [call.pk for call in passed]} if passed else {}),
                **({"exception": [call.pk for call in marked]} if marked else {}),
            },
            outcome="partly refused" if closed or passed or marked else "ok",
            at=now,
        )
        if past_deadline is not None:
            past_deadline.extend(passed)
        if exceptions is not None:
            exceptions.extend(marked)
        ids = [call.pk for call in changed]
        transaction.on_commit(lambda: live.publish(ids))
    return changed


def acted_on(at: datetime) -> datetime | None:
    """When a time set is acted on: the time itself in continuous trading (or anywhere under
    ``AUTO_LIQUIDATION_ANY_TIME``), else the first minute of trading after it (None past the calendar)."""
    if settings.AUTO_LIQUIDATION_ANY_TIME or is_trading(at):
        return at
    return next_trading(at)


def past_deadline_kinds() -> set[str]:
    """The account kinds whose rule set liquidates calls past their deadline by themselves."""
    return set(RuleSet.objects.filter(auto_liquidate_past_deadline=True).values_list("account_kind", flat=True))


def after_deadline(calls: list[MarginCall], at: datetime) -> tuple[list[tuple[MarginCall, datetime]], list[MarginCall]]:
    """Of these calls (debit ones aside: they have nothing to sell), those whose deadline, still to come,
    is acted on before a time set would be, both read as acted on (a deadline at the close and a time that evening
    are both acted on the next morning): (those whose rule set liquidates past the deadline, with when
    it does, before the time; those left open past their deadline until the time: all of them while the
    risk admins' switch is off)."""
    moment = acted_on(at) or at
    now = timezone.now()
    first, left = [], []
    kinds = None
    acted = {}
    for call in calls:
        if call.call_type == CallType.DEBIT or call.deadline <= now:
            continue
        due = call.deadline
        if due not in acted:
            acted[due] = acted_on(due) or due
        if not acted[due] < moment:
            continue
        if kinds is None:
            kinds = past_deadline_kinds()
        if call.kind in kinds:
            first.append((call, acted[due]))
        else:
            left.append(call)
    if first and not LiquidationSwitch.automatic_on():  # switched off, nothing goes past a deadline either
        left = sorted([*left, *(call for call, _due in first)], key=lambda call: call.pk)
        first = []
    return first, left


def due_calls(now: datetime) -> list[tuple[MarginCall, datetime]]:
    """Open, non-exception calls whose time has come, with the setting they are due by."""
    calls = (
        MarginCall.objects.filter(closed_at__isnull=True, status=CallStatus.OPEN)
        .filter(Q(auto_liquidate_at__lte=now) | Q(kind__in=past_deadline_kinds(), deadline__lte=now))
        .select_related("account", "account__desk")
        .order_by("pk")
    )
    return [(call, call.auto_liquidate_at if _set_and_come(call, now) else call.deadline) for call in calls]


def placed_settings(due: list[tuple[MarginCall, datetime]]) -> set[int]:
    """Of these due calls, the ones whose setting has placed its orders already (nothing more to do)."""
    keys = {call.pk: setting_key(call, moment) for call, moment in due}
    placed = {
        services.request_key(key)
        for key in Order.objects.filter(call__in=list(keys), source=Source.AUTO).values_list(
            "idempotency_key", flat=True
        )
        if key
    }
    return {call_id for call_id, key in keys.items() if key in placed}


def _set_and_come(call: MarginCall, now: datetime) -> bool:
    return call.auto_liquidate_at is not None and call.auto_liquidate_at <= now


def due_moment(call: MarginCall, now: datetime, rules: RuleSet) -> datetime | None:
    """The setting an open call is due by now (its time set, or its deadline where its rule set
    liquidates past the deadline), or None."""
    if _set_and_come(call, now):
        return call.auto_liquidate_at
    if rules.auto_liquidate_past_deadline and call.deadline <= now:
        return call.deadline
    return None


def _note(call: MarginCall, said: Said, now: datetime) -> None:
    """Write on the call what this run did or why it waited, in every language: each reader reads it in
    their own."""
    at = f"{timezone.localtime(now):%Y-%m-%d %H:%M}"
    texts = {code: f"{at} {text}"[:300] for code, text in every_language(said).items()}
    if call.auto_liquidation_note != texts:
        MarginCall.objects.filter(pk=call.pk).update(auto_liquidation_note=texts, updated_at=now)
        transaction.on_commit(lambda: live.publish([call.pk]))


def run(now: datetime | None = None) -> dict[str, int]:
    """One check: place what is due, note what waits and why. Returns counts by outcome."""
    now = now or timezone.now()
    counts = {"placed": 0, "skipped": 0, "done": 0}
    due = due_calls(now)
    if not due:
        return counts
    if not LiquidationSwitch.automatic_on():
        for call, _moment in due:
            _note(call, say(gettext_lazy("skipped: automatic liquidation is switched off")), now)
        counts["skipped"] = len(due)
        logger.warning("automatic liquidation is switched off: %d call(s) due", len(due))
        return counts
    if not settings.AUTO_LIQUIDATION_ANY_TIME and not is_trading(now):
        for call, _moment in due:
            _note(call, say(gettext_lazy("waiting: HKEX is not trading")), now)
        counts["skipped"] = len(due)
        return counts
    # Everything the due calls need, read once: what each setting already placed, the plans, the prices.
    keys = {call.pk: setting_key(call, moment) for call, moment in due}
    placed = placed_settings(due)
    todo = [call for call, _moment in due if call.pk not in placed]
    counts["done"] = len(due) - len(todo)
    if not todo:
        return counts
    with transaction.atomic():
        # The plans are read under the positions' lock, as a batch's are: orders a trader or a batch
        # placed meanwhile count as working, so the run orders only what they leave to do.
        services.lock_positions([call.account_id for call in todo])
        plans = services.plan_accounts([call.account for call in todo])
        symbols = {order.symbol for plan in plans.values() for order in plan.orders}
        price_times = {
            symbol: (currency, at)
            for symbol, currency, at in Instrument.objects.filter(symbol__in=symbols).values_list(
                "symbol", "currency", "price_time"
            )
        }
        rules = services.rules_by_kind()
        for call in todo:
            outcome = _liquidate(call, keys[call.pk], plans[call.account.pk], price_times, rules[call.kind], now)
            counts[outcome] += 1
    return counts


# A stock of another market: its last price is its own last session's, hours old while HKEX trades (and
# days old over a long weekend), as the call's page and the batch preview leave it unmarked. Older than
# this, or with no time at all, its market has not traded it lately: nothing is placed on it.
OTHER_MARKET_PRICE_AGE = timedelta(days=4)


def _price_is_old(currency: str, price_time: datetime | None, rules: RuleSet, now: datetime) -> bool:
    if currency == HKD:  # HKEX's, which auto-liquidation runs in: the rule set's limit
        return services.price_is_old(price_time, rules, now)
    return price_time is None or price_time < now - OTHER_MARKET_PRICE_AGE


def _liquidate(call: MarginCall, key: str, plan, price_times: dict, rules: RuleSet, now: datetime) -> str:
    if isinstance(plan, services.NoPlan):
        _note(call, say(gettext_lazy("skipped: %(why)s"), why=plan.reason), now)
        return "skipped"
    if not plan.orders:
        _note(call, say(gettext_lazy("skipped: the plan has no order")), now)
        return "skipped"
    stale = [order.symbol for order in plan.orders if _price_is_old(*price_times[order.symbol], rules, now)]
    if stale:
        here = [symbol for symbol in stale if price_times[symbol][0] == HKD]
        elsewhere = [symbol for symbol in stale if symbol not in here]
        said = [
            say(message, symbols=", ".join(symbols), **values)
            for symbols, message, values in (
                (
                    here,
                    gettext_lazy("the price of %(symbols)s is older than %(minutes)d minutes"),
                    {"minutes": rules.max_price_age_minutes},
                ),
                (
                    elsewhere,
                    gettext_lazy("the price of %(symbols)s, of another market, is older than %(days)d days"),
                    {"days": OTHER_MARKET_PRICE_AGE.days},
                ),
            )
            if symbols
        ]
        _note(call, say(gettext_lazy("skipped: %(why)s"), why=joined(*said, separator="; ")), now)
        return "skipped"
    wanted = [services.Wanted(order.symbol, order.quantity) for order in plan.orders]

    moved = say(gettext_lazy("its automatic liquidation time was changed"))

    def still_due(locked: MarginCall) -> Said | None:
        # As the call is when its orders are placed: a trader may have marked it, or moved or cleared
        # its time, while this run went through the calls before it.
        if locked.status != CallStatus.OPEN:
            return say(gettext_lazy("the call was marked exception"))
        if not LiquidationSwitch.automatic_on():  # turned off by an admin while this run went
            return say(gettext_lazy("automatic liquidation is switched off"))
        due = due_moment(locked, now, rules)
        if due is None or setting_key(locked, due) != key:
            return moved
        return None

    try:
        orders = services.place(
            user=None,
            account=call.account,
            wanted=wanted,
            source=Source.AUTO,
            call=call,
            key=key,
            still_wanted=still_due,
        )
    except services.Refused as refused:
        if refused.said is not moved:  # a new setting: its own run writes its note
            _note(call, say(gettext_lazy("skipped: %(why)s"), why=refused.said), now)
        return "skipped"
    _note(
        call, say(ngettext_lazy("placed %(count)d order", "placed %(count)d orders", "count"), count=len(orders)), now
    )
    return "placed"
