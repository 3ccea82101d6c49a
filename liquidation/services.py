"""Liquidation: the plan of an account as stored, placing orders with their quantities reserved,
cancelling, and booking what the gateway reports (fills, rejects, cancels). The console, the commands
and auto-liquidation all come through here."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Mod
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from book.lookups import among
from book.models import (
    AMOUNT_LIMIT,
    HKD,
    PRICE_PLACES,
    Account,
    CashBalance,
    Instrument,
    InstrumentStatus,
    Position,
    option_expired,
)
from book.signals import BookEffect, positions_changed
from book.trading_calendar import is_trading
from console import audit
from console.fields import OUT_OF_DATE
from console.locks import atomic_again
from console.models import AuditEntry
from console.permissions import can
from console.text import Said, joined, say
from risk import calls as call_locks
from risk import selectors as risk_selectors
from risk import services as risk_services
from risk.calculations import ENGINE_CONTEXT, AccountTerms, MissingFxRate, average_price, fx_rate, round_money
from risk.models import CallStatus, CallType, CloseCause, MarginCall, RuleSet

from . import gateway, live, prices
from . import plan as planning
from .models import WORKING, Fill, Order, OrderStatus, OrderType, Side, Source

logger = logging.getLogger(__name__)
alerts = logging.getLogger("margincall.alerts")

LIQUIDATE = "liquidation.liquidate"
CANCEL_ORDER = "liquidation.cancel_order"


class Refused(Exception):
    """An order that may not be placed or cancelled, with why (shown to the trader as is; kept, it reads
    in each reader's language)."""

    @property
    def said(self) -> Said | str:
        return self.args[0]


@dataclass(frozen=True)
class Wanted:
    """An order a trader (or a plan) asks for."""

    symbol: str
    quantity: int
    limit_price: Decimal | None = None  # None: the default price
    order_type: str = OrderType.LIMIT
    # The side the asker means (a buy-back: buy), checked against the position under its lock; None: the
    # side that closes the position, whichever it is.
    side: str | None = None


def rule_set(kind: str) -> RuleSet:
    return RuleSet.objects.filter(account_kind=kind).first() or RuleSet(account_kind=kind)


def rules_by_kind() -> dict[str, RuleSet]:
    """Every account kind's rule set (an unsaved default for a kind that has none)."""
    found = {rules.account_kind: rules for rules in RuleSet.objects.all()}
    return defaultdict(RuleSet, found)


def plan_settings(
    account: Account, *, buffer: Decimal | None = None, cost: Decimal | None = None, target: str | None = None
) -> planning.Settings:
    return settings_from(rule_set(account.kind), buffer=buffer, cost=cost, target=target)


def settings_from(
    rules: RuleSet, *, buffer: Decimal | None = None, cost: Decimal | None = None, target: str | None = None
) -> planning.Settings:
    """The plan's settings from a rule set, each overridable (the plan_liquidation command's options)."""
    return planning.Settings(
        target=target or rules.liquidation_target,
        buffer=rules.liquidation_buffer if buffer is None else buffer,
        cost_rate=rules.liquidation_cost_rate if cost is None else cost,
        call_coefficient=rules.call_coefficient,
    )


def working_quantities(account_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """(account id, instrument id) -> the unfilled quantity of its working orders."""
    rows = (
        Order.objects.filter(account_id__in=list(account_ids), status__in=WORKING)
        .values("account_id", "instrument_id")
        .annotate(rest=Sum(F("quantity") - F("filled_quantity")))
    )
    return {(row["account_id"], row["instrument_id"]): row["rest"] for row in rows}


def working_and_filling(account_ids: Iterable[int]) -> tuple[dict, dict]:
    """Two maps (account id, instrument id) -> quantity, read in one walk of the working orders: the
    unfilled rest of all of them (what is reserved), and of those priced to fill near the market (at
    market, or a limit no further from the last price, on the wrong side, than the rule set's price
    band: a sell at most that far above it, a buy at most that far below). The rest (a sell at 60 with
    the last at 40) waits for a market that may never come."""
    rules = rules_by_kind()
    working: dict[tuple[int, int], int] = {}
    filling: dict[tuple[int, int], int] = {}
    for order in (
        Order.objects.filter(account_id__in=list(account_ids), status__in=WORKING)
        .select_related("instrument", "account")
        .only(
            "account_id",
            "account__kind",
            "instrument_id",
            "instrument__price",
            "side",
            "order_type",
            "limit_price",
            "quantity",
            "filled_quantity",
        )
    ):
        key = (order.account_id, order.instrument_id)
        working[key] = working.get(key, 0) + order.remaining
        if _near_the_market(order, rules[order.account.kind].price_band):
            filling[key] = filling.get(key, 0) + order.remaining
    return working, filling


def _near_the_market(order: Order, band: Decimal) -> bool:
    last = order.instrument.price
    if order.order_type == OrderType.MARKET or order.limit_price is None:
        return True
    if last <= 0:
        return False
    if order.side == Side.SELL:
        return order.limit_price <= last * (1 + band)
    return order.limit_price >= last * (1 - band)


def trading_now() -> bool:
    """Whether HKEX trades now (the simulated exchange that trades at any time: always)."""
    return settings.SIMULATED_EXCHANGE_ALWAYS_OPEN or is_trading(timezone.now())


def price_is_old(price_time: datetime | None, rules: RuleSet, now: datetime) -> bool:
    """Whether a last price is older than the rule set lets automatic liquidation trade on (or has no
    time): a limit set from it may be far from the market."""
    return price_time is None or price_time < now - timedelta(minutes=rules.max_price_age_minutes)


def old_prices(symbols: Iterable[str], rules: RuleSet) -> dict[str, datetime | None]:
    """While HKEX trades: those of these stocks traded there whose last price is old
    (:func:`price_is_old`), with its time, by symbol. Outside trading every price is the last
    session's: none is said to be old (a market elsewhere keeps other hours: none of its either)."""
    if not trading_now():
        return {}
    now = timezone.now()
    times = Instrument.objects.filter(symbol__in=set(symbols), currency=HKD).values_list("symbol", "price_time")
    return {symbol: at for symbol, at in sorted(times) if price_is_old(at, rules, now)}


def held_on_side(quantity: int, side: str) -> tuple[int, str]:
    """What a position of this quantity holds for orders of this side to close: (shares, "long" or
    "short"); 0 where it holds the other way."""
    if side == Side.SELL:
        return max(0, quantity), "long"
    return max(0, -quantity), "short"


def beyond_the_book(account_ids: Iterable[int]) -> list[str]:
    """Working orders that a book written since they were placed no longer backs, said a position a
    line: together they trade more than the position holds, or an odd lot among them no longer closes
    it (the position grew). Reads the working orders first: a book of many accounts with few orders
    costs two small queries."""
    ids = list(account_ids)
    rows = []
    for start in range(0, len(ids), 5000):
        rows += (
            Order.objects.filter(account_id__in=ids[start : start + 5000], status__in=WORKING)
            .values("account_id", "instrument_id", "side", "account__account_no", "instrument__symbol")
            .annotate(
                rest=Sum(F("quantity") - F("filled_quantity")),
                odd=Sum(Mod(F("quantity") - F("filled_quantity"), F("instrument__lot_size"))),
            )
        )
    if not rows:
        return []
    held = {
        (account, instrument): quantity
        for account, instrument, quantity in Position.objects.filter(
            account_id__in={row["account_id"] for row in rows}, instrument_id__in={row["instrument_id"] for row in rows}
        ).values_list("account_id", "instrument_id", "quantity")
    }
    said = []
    for row in sorted(rows, key=lambda r: (r["account__account_no"], r["instrument__symbol"], r["side"])):
        holds, side = held_on_side(held.get((row["account_id"], row["instrument_id"]), 0), row["side"])
        what = "sell" if row["side"] == Side.SELL else "buy back"
        account, symbol, rest = row["account__account_no"], row["instrument__symbol"], row["rest"]
        if rest > holds:
            said.append(
                f"account {account}: working orders {what} {rest} {symbol}, more than the {holds} it now holds"
                f" {side}; review them on Liquidation Orders"
            )
        elif row["odd"] and rest != holds:
            said.append(
                f"account {account}: working orders {what} {rest} {symbol} with an odd lot, which no longer"
                f" closes the {holds} it now holds {side}; the exchange will take no more of the odd lot"
            )
    return said


def book_written(sender, *, account_ids, by_admin=False, **kwargs) -> BookEffect:
    """A book written under working orders: the import warns of each position they now trade past."""
    return BookEffect(warnings=[] if by_admin or not account_ids else beyond_the_book(account_ids))


@dataclass
class Book:
    """An account as the plan needs it, read in a fixed number of queries."""

    account: Account
    terms: AccountTerms
    cash: dict[str, Decimal]
    lines: list[planning.Line]
    fx: dict[str, Decimal]
    instruments: dict[str, Instrument]


def account_books(accounts: Sequence[Account]) -> dict[int, Book]:
    """The books of many accounts in a fixed number of queries (a batch plans hundreds at once)."""
    ids = [account.pk for account in accounts]
    working, filling = working_and_filling(ids)
    fx = risk_selectors.fx_rates_current()
    positions: dict[int, list[Position]] = {pk: [] for pk in ids}
    for position in (
        Position.objects.filter(account_id__in=ids).exclude(quantity=0).select_related("instrument").order_by("pk")
    ):
        positions[position.account_id].append(position)
    cash: dict[int, dict[str, Decimal]] = {pk: {} for pk in ids}
    for account_id, currency, amount in CashBalance.objects.filter(account_id__in=ids).values_list(
        "account_id", "currency", "amount"
    ):
        cash[account_id][currency] = amount
    books = {}
    today = timezone.localdate()
    for account in accounts:
        held = positions[account.pk]
        books[account.pk] = Book(
            account=account,
            terms=AccountTerms(
                account.credit_limit, account.accrued_interest, account.debt_margin, account.trading_limit
            ),
            cash=cash[account.pk],
            lines=[
                planning.Line(
                    symbol=position.instrument.symbol,
                    terms=risk_selectors.terms_of(position.instrument),
                    quantity=position.quantity,
                    lot_size=position.instrument.lot_size,
                    working=min(abs(position.quantity), working.get((account.pk, position.instrument_id), 0)),
                    expired=expired(position.instrument, today),
                    filling=filling.get((account.pk, position.instrument_id), 0),
                )
                for position in held
            ],
            fx=fx,
            instruments={position.instrument.symbol: position.instrument for position in held},
        )
    return books


def expired(instrument: Instrument, today) -> bool:
    return option_expired(instrument.kind, instrument.expiry, today)


def account_book(account: Account) -> Book:
    return account_books([account])[account.pk]


def account_plan(
    account: Account, *, only: Iterable[str] | None = None, per_line: bool = False, **overrides
) -> tuple[planning.Plan, Book]:
    book = account_book(account)
    result = planning.plan(
        account=book.terms,
        cash=book.cash,
        lines=book.lines,
        fx=book.fx,
        settings=plan_settings(account, **overrides),
        only=only,
        per_line=per_line,
    )
    return result, book


def hkd_value(instrument: Instrument, quantity: int, fx: dict[str, Decimal]) -> Decimal:
    """A quantity's value at the current price, in HKD (the engine's FX rule)."""
    with localcontext(ENGINE_CONTEXT):
        return quantity * instrument.price * instrument.multiplier * fx_rate(fx, instrument.currency)


def open_call(account: Account) -> MarginCall | None:
    return MarginCall.objects.filter(account=account, closed_at__isnull=True).first()


# --- placing ----------------------------------------------------------------------------------------


HIGHEST_LIMIT = 10**8
PRICE_UNIT = Decimal(1).scaleb(-PRICE_PLACES)  # a limit price has the places of its column


def check_limit(instrument: Instrument, side: str, asked: Decimal, rules: RuleSet) -> None:
    """Refused, with why, if an order of this side could not be placed at this limit price (as
    :func:`place` would judge it): the form's live preview says so before the trader places."""
    _limit_price(instrument, side, asked, rules)


def _limit_price(instrument: Instrument, side: str, asked: Decimal | None, rules: RuleSet) -> Decimal:
    band, deviation = rules.price_band, rules.price_deviation_limit
    if asked is None:
        if instrument.price <= 0:  # no market price to start from: 0.01 would give the stock away
            raise Refused(
                say(
                    gettext_lazy("%(symbol)s: there is no last price to set a limit from; give a limit price."),
                    symbol=instrument.symbol,
                )
            )
        return prices.default_limit(instrument.price, side=side, band=band, hkex=prices.on_spread_table(instrument))
    try:
        asked = Decimal(asked)
    except (InvalidOperation, TypeError, ValueError):
        raise Refused(
            say(gettext_lazy("%(symbol)s: the limit price is not a number."), symbol=instrument.symbol)
        ) from None
    # As typed in digits ("100", not "1E+2"), unless it is too long to write out.
    shown = f"{asked:f}" if asked.is_finite() and -20 < asked.adjusted() < 30 else str(asked)
    if not asked.is_finite() or asked <= 0:
        raise Refused(say(gettext_lazy("%(symbol)s: the limit price must be above 0."), symbol=instrument.symbol))
    if asked >= HIGHEST_LIMIT:
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: the limit price must be below %(highest)s."),
                symbol=instrument.symbol,
                highest=f"{HIGHEST_LIMIT:,}",
            )
        )
    if asked != asked.quantize(PRICE_UNIT):
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: a limit price has at most %(places)d decimal places; %(price)s has more."),
                symbol=instrument.symbol,
                places=PRICE_PLACES,
                # 0.0000001 as typed, but 1E-999999999 as it is: written out, it would be a gigabyte of zeros.
                price=shown,
            )
        )
    if prices.on_spread_table(instrument) and asked > prices.HIGHEST:
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: %(price)s is above %(highest)s, the highest price HKEX quotes."),
                symbol=instrument.symbol,
                price=shown,
                highest=f"{prices.HIGHEST:,}",
            )
        )
    if prices.on_spread_table(instrument) and not prices.on_grid(asked):
        below, above = prices.nearest_valid(asked)
        raise Refused(
            say(
                gettext_lazy(
                    "%(symbol)s: %(price)s is not on the HKEX price grid; the nearest valid prices are %(below)s and %(above)s."  # noqa: E501
                ),
                symbol=instrument.symbol,
                price=shown,
                below=below,
                above=above,
            )
        )
    if instrument.price > 0:
        # The default limits (the band off the last price, rounded away from it onto the grid) are always
        # within: a page's own prices are never refused.
        hkex = prices.on_spread_table(instrument)
        low = min(
            instrument.price * (1 - deviation),
            prices.default_limit(instrument.price, side=Side.SELL, band=band, hkex=hkex),
        )
        high = max(
            instrument.price * (1 + deviation),
            prices.default_limit(instrument.price, side=Side.BUY, band=band, hkex=hkex),
        )
        if not low <= asked <= high:
            if prices.on_spread_table(instrument):  # the range said in prices that can be given
                low, high = prices.round_to_grid(low, up=True), prices.round_to_grid(high, up=False)
            else:
                low, high = low.quantize(PRICE_UNIT, ROUND_CEILING), high.quantize(PRICE_UNIT, ROUND_FLOOR)
            said = say(
                gettext_lazy(
                    "%(symbol)s: %(price)s is more than %(deviation)s%% from the last price %(last)s; give a limit from %(low)s to %(high)s."  # noqa: E501
                ),
                symbol=instrument.symbol,
                price=shown,
                deviation=f"{deviation * 100:f}".rstrip("0").rstrip("."),
                last=f"{instrument.price.normalize():f}",
                low=f"{low.normalize():f}",
                high=f"{high.normalize():f}",
            )
            if instrument.price_time and instrument.symbol in old_prices([instrument.symbol], rules):
                # While HKEX trades, an old last price is a feed that has fallen behind: the range is off.
                said = joined(
                    said,
                    say(
                        gettext_lazy(
                            "That price is from %(at)s: check the price feed and the market before you order."
                        ),
                        at=timezone.localtime(instrument.price_time).strftime("%Y-%m-%d %H:%M"),
                    ),
                )
            raise Refused(said)
    return asked


@dataclass
class Request:
    """One account's orders in a placement: what is wanted, for which call, and the outcome (the orders
    placed, or why the account's orders were refused: all of an account's orders or none)."""

    account: Account
    wanted: Sequence[Wanted]
    call: MarginCall | None = None
    detail: dict | None = None
    orders: list[Order] | None = None
    refused: Said | None = None
    again: bool = False  # its key had placed these orders already: nothing more was placed
    # Checked against its call once locked: why the orders are no longer wanted (None: still wanted).
    still_wanted: Callable[[MarginCall], Said | None] | None = None


class Placed(list):
    """The orders a placement made; ``again`` when its key had placed them already (a form sent twice):
    then nothing more was placed."""

    def __init__(self, orders=(), *, again: bool = False):
        super().__init__(orders)
        self.again = again


def place(
    *,
    user,
    account: Account,
    wanted: Sequence[Wanted],
    source: str = Source.MANUAL,
    call: MarginCall | None = None,
    key: str | None = None,
    detail: dict | None = None,
    still_wanted: Callable[[MarginCall], Said | None] | None = None,
) -> list[Order]:
    """Place orders on one account, all or none; raise :class:`Refused` with why. See
    :func:`place_many`."""
    request = Request(account, wanted, call, detail, still_wanted=still_wanted)
    [request] = place_many(user=user, requests=[request], source=source, key=key)
    if request.refused is not None:
        raise Refused(request.refused)
    return Placed(request.orders, again=request.again)


def place_many(
    *, user, requests: Sequence[Request], source: str = Source.MANUAL, key: str | None = None
) -> list[Request]:
    """Place the orders of many accounts in one transaction; each account all or none, with its outcome.

    Each order's quantity must be free: the position less its working orders, read under a lock on the
    position rows (taken in one order, so concurrent requests never deadlock and can never together
    order more than a position holds). Whole lots unless it closes the position; a tradable instrument;
    a limit price on the HKEX grid (HK stock; other markets may also trade at market). A request
    carrying a key already used returns the orders that key made and places nothing more."""
    if source != Source.AUTO and not can(user, LIQUIDATE):
        raise Refused(say(gettext_lazy("You may not liquidate.")))
    if key is not None:
        _check_key(key)
        done = _placed_with(key)
        for request in requests:
            request.orders, request.refused = _answer_of(done.get(request.account.pk), user)
            request.again = bool(request.orders)
    todo = [request for request in requests if request.orders is None]
    visible = (
        set(Account.objects.visible_to(user).filter(pk__in=[r.account.pk for r in todo]).values_list("pk", flat=True))
        if user is not None
        else {r.account.pk for r in todo}
    )
    for request in todo:
        if request.account.pk not in visible:
            request.refused = say(gettext_lazy("No such account."))
        elif not request.wanted:
            request.refused = say(gettext_lazy("There is nothing to order."))
    todo = [request for request in todo if request.refused is None]
    if not todo:
        return list(requests)
    rules = rules_by_kind()
    # An order is its account's open call's, unless it recovers stock (a recall is no margin call's).
    calls = {
        call.account_id: call
        for call in MarginCall.objects.filter(
            account_id__in=[r.account.pk for r in todo if r.call is None and source != Source.RECOVERY],
            closed_at__isnull=True,
        )
    }
    try:
        with transaction.atomic():
            positions = lock_positions([r.account.pk for r in todo])
            if key is not None:
                # Under the lock: the same form sent twice at once finds what its twin placed.
                done = _placed_with(key)
                for request in todo:
                    if request.account.pk in done:
                        request.orders, request.refused = _answer_of(done[request.account.pk], user)
                        request.again = bool(request.orders)
                todo = [request for request in todo if request.orders is None]
            created = _place_locked(user, todo, source, key, rules, calls, positions)
            if created:
                Order.objects.bulk_create(created)
                now = timezone.now()
                AuditEntry.objects.bulk_create(
                    AuditEntry(
                        at=now,
                        user=user if user is not None and user.is_authenticated else None,
                        action="liquidate",
                        targets=[{"call": request.call.pk}] if request.call else [],
                        detail={
                            "account": request.account.account_no,
                            "source": source,
                            "orders": [_order_detail(order) for order in request.orders],
                            **(request.detail or {}),
                        },
                        outcome="ok",
                    )
                    for request in todo
                    if request.orders
                )
    except IntegrityError:
        if key is None:
            raise
        # The same key won a race against this request: its orders are the answer.
        return place_many(user=user, requests=requests, source=source, key=key)
    ids = [order.pk for order in created]
    if ids:
        transaction.on_commit(lambda: live.publish(ids))
        transaction.on_commit(lambda: submit(ids))
    return list(requests)


KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")  # a request's key: never a colon, which its orders' keys add


def key_placed(key: str, account_id: int) -> bool:
    """Whether a request with this key placed orders on this account already (its form sent again)."""
    return (
        bool(KEY.fullmatch(key))
        and Order.objects.filter(idempotency_key__startswith=f"{key}:", account_id=account_id).exists()
    )


def _placed_with(key: str) -> dict[int, list[Order]]:
    """The orders a request with this key placed, per account: a key sent again for another account
    (a form copied from another call's page) places that account's orders rather than answering with
    the first account's. An order's key is the request's key, its account's id and its instrument's
    id; a request's key never holds a colon."""
    done: dict[int, list[Order]] = {}
    for order in Order.objects.filter(idempotency_key__startswith=f"{key}:").select_related("instrument"):
        done.setdefault(order.account_id, []).append(order)
    return done


def _answer_of(orders: list[Order] | None, user) -> tuple[list[Order] | None, Said | None]:
    """What a request whose key placed these orders answers (orders, refused): the orders if this
    user placed them (the scheduler places as nobody: its orders answer it alone); nothing placed, and
    why, if another user did (their form's key copied); (None, None) if the key placed nothing yet."""
    placer = user.pk if user is not None and user.is_authenticated else None
    if orders and any(order.created_by_id != placer for order in orders):
        return [], say(gettext_lazy("This form was already used by another user: nothing was placed."))
    return orders, None


def _check_key(key: str) -> None:
    if not KEY.fullmatch(key):
        raise Refused(say(OUT_OF_DATE))


def request_key(order_key: str) -> str:
    """The key of the request that placed an order with this key."""
    return order_key.split(":", 1)[0]


def lock_positions(account_ids: Sequence[int]) -> dict[tuple[int, str], Position]:
    """These accounts' positions by (account, symbol), locked in the caller's transaction in one order
    for every placement (so two never deadlock): what is free to order is read after this.

    On PostgreSQL the accounts are held first (shared, as an order's desk trigger holds its account):
    a book write that moves an account waits, or is waited for, before either holds a position the
    other needs."""
    if connection.vendor == "postgresql":
        listed, ids = among(sorted(set(account_ids)), connection)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {Account._meta.db_table} WHERE id {listed} ORDER BY id FOR SHARE", ids)
    return {
        (position.account_id, position.instrument.symbol): position
        for position in Position.objects.select_for_update(of=("self",))
        .filter(account_id__in=list(account_ids))
        .select_related("instrument")
        .order_by("pk")
    }


def _place_locked(user, requests, source, key, rules, calls, positions) -> list[Order]:
    """Check every request against the locked positions; build the orders of those that pass."""
    working = working_quantities([r.account.pk for r in requests])
    for request in requests:
        request.call = request.call or calls.get(request.account.pk)
    # The calls, locked after the positions (the order a fill's recompute takes them in): a call that
    # has closed since its page or plan was read (ended by hand, met by a deposit) has nothing to liquidate.
    locked = {call.pk: call for call in call_locks.locked([r.call.pk for r in requests if r.call is not None])}
    now = timezone.now()
    created = []
    for request in requests:
        account = request.account
        call = locked.get(request.call.pk) if request.call is not None else None
        if call is not None and call.closed_at is not None:
            request.refused = say(gettext_lazy("The call has closed: nothing was placed."))
            continue
        if call is not None and request.still_wanted is not None:
            request.refused = request.still_wanted(call)
            if request.refused is not None:
                continue
        try:
            orders = [
                part
                for item in _unique(request.wanted)
                for part in _board_and_odd_lots(
                    _order(item, positions.get((account.pk, item.symbol)), working, rules[account.kind])
                )
            ]
        except Refused as refused:
            request.refused = refused.said
            continue
        for order in orders:
            order.account, order.call, order.source = account, request.call, source
            order.created_by = user if user is not None and user.is_authenticated else None
            order.created_at = order.updated_at = now
            if key is not None:
                odd = ":odd" if order.quantity < order.instrument.lot_size else ""
                order.idempotency_key = f"{key}:{account.pk}:{order.instrument.pk}{odd}"
        request.orders = orders
        created += orders
    return created


def _unique(wanted: Sequence[Wanted]) -> Sequence[Wanted]:
    symbols = [item.symbol for item in wanted]
    if len(set(symbols)) != len(symbols):
        raise Refused(say(gettext_lazy("Each stock may be ordered once per request.")))
    return wanted


def _order(item: Wanted, position: Position | None, working: dict, rules: RuleSet) -> Order:
    if position is None or not position.quantity:
        raise Refused(say(gettext_lazy("%(symbol)s: the account holds none."), symbol=item.symbol))
    instrument = position.instrument
    held = abs(position.quantity)
    busy = working.get((position.account_id, instrument.pk), 0)
    free = max(0, held - busy)
    if not isinstance(item.quantity, int) or isinstance(item.quantity, bool) or item.quantity <= 0:
        raise Refused(say(gettext_lazy("%(symbol)s: the quantity must be a whole number above 0."), symbol=item.symbol))
    if item.quantity > free:
        raise Refused(
            say(
                gettext_lazy(
                    "%(symbol)s: %(quantity)s is more than the free quantity %(free)s (held %(held)s, %(busy)s in working orders)."  # noqa: E501
                ),
                symbol=item.symbol,
                quantity=item.quantity,
                free=free,
                held=held,
                busy=busy,
            )
        )
    closes = busy + item.quantity == held
    if item.quantity % instrument.lot_size and not closes:
        raise Refused(
            say(
                gettext_lazy(
                    "%(symbol)s: %(quantity)s is not a whole number of lots of %(lot)s (only an order that closes the position may have an odd lot)."  # noqa: E501
                ),
                symbol=item.symbol,
                quantity=item.quantity,
                lot=instrument.lot_size,
            )
        )
    if instrument.status != "normal":
        label = InstrumentStatus(instrument.status).label
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: the instrument is %(status)s and cannot be traded."),
                symbol=item.symbol,
                # Mid-sentence, and in the language the refusal is read in: "is suspended".
                status=Said(lambda: str(label).lower()),
            )
        )
    if expired(instrument, timezone.localdate()):
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: the option expired on %(expiry)s and cannot be traded."),
                symbol=item.symbol,
                expiry=instrument.expiry.isoformat(),
            )
        )
    side = Side.SELL if position.quantity > 0 else Side.BUY
    if item.side is not None and item.side != side:  # the book changed since the form was drawn
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: the account now holds it %(holds)s; nothing was placed."),
                symbol=item.symbol,
                holds=say(pgettext_lazy("position side", "long"))
                if side == Side.SELL
                else say(pgettext_lazy("position side", "short")),
            )
        )
    if item.order_type == OrderType.MARKET:
        if instrument.currency == HKD:
            raise Refused(
                say(
                    gettext_lazy("%(symbol)s: HKEX takes no market orders in continuous trading; give a limit price."),
                    symbol=item.symbol,
                )
            )
        order = Order(instrument=instrument, side=side, quantity=item.quantity, order_type=OrderType.MARKET)
        price = instrument.price
    else:
        price = _limit_price(instrument, side, item.limit_price, rules)
        order = Order(
            instrument=instrument, side=side, quantity=item.quantity, order_type=OrderType.LIMIT, limit_price=price
        )
    if abs(item.quantity * price * instrument.multiplier) >= AMOUNT_LIMIT:
        # Its fill could not be booked: no cash balance holds that much.
        raise Refused(
            say(
                gettext_lazy("%(symbol)s: %(quantity)s at %(price)s is more than a cash balance can hold; order less."),
                symbol=item.symbol,
                quantity=item.quantity,
                price=price,
            )
        )
    working[(position.account_id, instrument.pk)] = busy + item.quantity
    return order


def _board_and_odd_lots(order: Order) -> list[Order]:
    """HKEX trades odd lots apart from board lots: an order of whole lots and an odd lot (one that
    closes the position) goes as two orders, the board lots first, at the same price."""
    lot = order.instrument.lot_size
    odd = order.quantity % lot
    if not odd or order.quantity < lot:
        return [order]
    board = Order(
        instrument=order.instrument,
        side=order.side,
        quantity=order.quantity - odd,
        order_type=order.order_type,
        limit_price=order.limit_price,
    )
    order.quantity = odd
    return [board, order]


def _order_detail(order: Order) -> dict:
    return {
        "id": order.pk,
        "symbol": order.instrument.symbol,
        "side": order.side,
        "quantity": order.quantity,
        "limit_price": None if order.limit_price is None else str(order.limit_price),
    }


def place_plan(*, user, account: Account, only: Iterable[str] | None = None, source=Source.MANUAL, key=None):
    """Place the account's default plan; raise :class:`Refused` when it has no order."""
    [request] = liquidate_calls(user=user, accounts=[account], only=only, source=source, key=key)
    if request.refused is not None:
        raise Refused(request.refused)
    return Placed(request.orders, again=request.again)


DEBIT_HAS_NO_POSITION = gettext_lazy("A debit call has no position to sell or buy back: only a deposit meets it.")


@dataclass(frozen=True)
class NoPlan:
    """An account that cannot be planned: a currency it holds has no FX rate. Nothing to order, and why
    (where a plan is read: its orders, value and cover)."""

    reason: Said
    orders: tuple = ()
    value: Decimal = Decimal(0)
    covers: bool = False


def no_fx_rate(error: MissingFxRate) -> Said:
    return say(
        gettext_lazy("No FX rate for %(currency)s: nothing can be planned until a risk admin adds one."),
        currency=error.currency,
    )


def plan_accounts(
    accounts: Sequence[Account], *, only: Iterable[str] | None = None
) -> dict[int, planning.Plan | NoPlan]:
    """The default plans of many accounts: their books read in a fixed number of queries, planned in
    memory (a batch, its preview, auto-liquidation). An account that cannot be planned has a
    :class:`NoPlan`, which says why."""
    books = account_books(accounts)
    rules = rules_by_kind()
    plans = {}
    for account in accounts:
        book = books[account.pk]
        try:
            plans[account.pk] = _default_plan(book, rules[account.kind], only)
        except MissingFxRate as error:
            plans[account.pk] = NoPlan(no_fx_rate(error))
    return plans


def _default_plan(book: Book, rules: RuleSet, only) -> planning.Plan:
    return planning.plan(
        account=book.terms,
        cash=book.cash,
        lines=book.lines,
        fx=book.fx,
        settings=settings_from(rules),
        only=only,
    )


def liquidate_calls(
    *,
    user,
    accounts: Sequence[Account],
    only: Iterable[str] | None = None,
    source: str = Source.BATCH,
    key: str | None = None,
) -> list[Request]:
    """Plan and place the default plan of many accounts (a batch from the Risk Warning list, or
    auto-liquidation): books read in a fixed number of queries, plans in memory, orders placed in one
    transaction, each account all or none with its outcome. A key already used returns what it placed
    (a placed plan covers by itself and would have nothing more to order)."""
    if source != Source.AUTO and not can(user, LIQUIDATE):
        raise Refused(say(gettext_lazy("You may not liquidate.")))
    if key is not None:
        _check_key(key)
    with transaction.atomic():
        # The plans are read under the positions' lock: a batch over the same calls that placed first
        # has committed its orders, and they count as working here (never ordered twice).
        lock_positions([account.pk for account in accounts])
        return _liquidate_locked(user, accounts, only, source, key)


def _not_an_exception(call: MarginCall) -> Said | None:
    if call.status == CallStatus.EXCEPTION:
        return say(gettext_lazy("The call is marked exception: a batch leaves it (liquidate it from its own page)."))
    return None


def _liquidate_locked(user, accounts, only, source, key) -> list[Request]:
    only = None if only is None else sorted(set(only))
    done = _placed_with(key) if key is not None else {}
    requests = []
    plans = plan_accounts([a for a in accounts if a.pk not in done], only=only)
    for account in accounts:
        if account.pk in done:
            orders, refused = _answer_of(done[account.pk], user)
            requests.append(Request(account, [], orders=orders, refused=refused, again=bool(orders)))
            continue
        result = plans[account.pk]
        request = Request(
            account,
            [Wanted(order.symbol, order.quantity) for order in result.orders],
            detail={"plan": {"covers": result.covers, "value": str(round_money(result.value))}},
            # A batch leaves the exceptions, as the lists offer it only on the Active tab (a trader may
            # still liquidate one from its own page).
            still_wanted=_not_an_exception if source == Source.BATCH else None,
        )
        if isinstance(result, NoPlan):
            request.refused = result.reason
        elif not result.orders:
            request.refused = (
                say(gettext_lazy("The plan has no order: the call is already covered."))
                if result.covers
                else say(
                    gettext_lazy("None of the chosen stocks (%(symbols)s) can be sold or bought back for this call."),
                    symbols=", ".join(only),
                )
                if only
                else say(DEBIT_HAS_NO_POSITION)
                if result.before.call_type == CallType.DEBIT
                else say(
                    gettext_lazy(
                        "Nothing can be sold or bought back for this call (only suspended, delisted or reserved stock)."
                    )
                )
            )
        requests.append(request)
    placeable = [r for r in requests if r.refused is None and r.orders is None]
    if placeable:
        place_many(user=user, requests=placeable, source=source, key=key)
    return requests


# --- cancelling and what the gateway reports ---------------------------------------------------------


def cancel(*, user, orders: Iterable[Order]) -> list[tuple[Order, str]]:
    """Ask the gateway to cancel working orders; each gets an outcome ("ok" or why not). An order of
    an account on none of the user's desks is not cancelled: it is no order of theirs."""
    if not can(user, CANCEL_ORDER):
        raise Refused(_("You may not cancel orders."))
    orders = list(orders)
    visible = set(Order.objects.visible_to(user).filter(pk__in=[o.pk for o in orders]).values_list("pk", flat=True))
    outcomes = []
    for order in orders:
        if order.pk not in visible:
            outcomes.append((order, _("no such order")))
            continue
        if not order.is_working:
            outcomes.append((order, _("not working (%(status)s)") % {"status": order.get_status_display()}))
            continue
        now = timezone.now()
        Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now, updated_at=now
        )
        transaction.on_commit(lambda pk=order.pk: live.publish([pk]))
        gateway.get().cancel(order.pk)
        order.refresh_from_db()
        outcomes.append((order, "ok"))
    audit.record(
        user,
        "cancel_order",
        calls=sorted({order.call_id for order, _outcome in outcomes if order.call_id}),
        detail={"orders": [{"id": order.pk, "outcome": outcome} for order, outcome in outcomes]},
        outcome="ok" if all(outcome == "ok" for _order, outcome in outcomes) else "partly refused",
    )
    return outcomes


def calls_with_orders(sender, *, call_ids=(), **kwargs) -> set[int]:
    """Of these calls, the ones with liquidation orders placed (what the liquidation template tells)."""
    return set(Order.objects.filter(call_id__in=list(call_ids)).values_list("call_id", flat=True))


def call_ended(sender, *, call_id: int, user, **kwargs) -> str:
    """A trader ended a call and asked for its working orders to be cancelled: ask the gateway, as that
    user (their permission and desks apply). Says what was done, for the trader."""
    orders = list(Order.objects.filter(call_id=call_id).working().order_by("pk"))
    if not orders:
        return ""
    try:
        outcomes = cancel(user=user, orders=orders)
    except Refused as refused:
        return _("Its working orders were left as they are: %(why)s") % {"why": refused}
    return " ".join(text for _level, text in said_of_cancels(outcomes))


def said_of_cancels(outcomes) -> list[tuple[str, str]]:
    """What became of the orders :func:`cancel` was asked for, as (level, sentence): cancelled, a cancel
    sent and waiting for the exchange's answer (a broker's gateway), or no longer working."""
    asked = [order for order, outcome in outcomes if outcome == "ok"]
    done = sum(order.status == OrderStatus.CANCELLED for order in asked)
    waiting = sum(order.is_working for order in asked)
    left = len(outcomes) - done - waiting  # filled or rejected first, or long done
    said = []
    if done:
        said.append(
            ("success", ngettext("%(count)d order cancelled.", "%(count)d orders cancelled.", done) % {"count": done})
        )
    if waiting:
        said.append(
            (
                "info",
                ngettext(
                    "%(count)d cancel sent to the exchange: the order stays working until the exchange confirms.",
                    "%(count)d cancels sent to the exchange: the orders stay working until the exchange confirms.",
                    waiting,
                )
                % {"count": waiting},
            )
        )
    if left:
        said.append(
            (
                "warning",
                ngettext(
                    "%(count)d order was no longer working: left as it is.",
                    "%(count)d orders were no longer working: left as they are.",
                    left,
                )
                % {"count": left},
            )
        )
    return said


def _positions_moved(account_id: int) -> None:
    for receiver, outcome in positions_changed.send_robust(sender=Position, account_ids=[account_id]):
        if isinstance(outcome, Exception):
            logger.error("%s failed on positions_changed", receiver, exc_info=outcome)


def submit(order_ids: Sequence[int]) -> bool:
    """Send committed orders to the market through the gateway. Orders it cannot send (the broker's
    order system away, or failing) stay pending, reserved: said on the alerts logger, and sent again by
    :func:`liquidation.tasks.resubmit_orders` until the gateway takes them. False if it failed."""
    # Stamped as sent now: resubmit_orders, which sends what has waited ORDER_RESUBMIT_SECONDS since, leaves
    # it alone however long the placing transaction took to commit.
    Order.objects.filter(pk__in=list(order_ids), status=OrderStatus.PENDING).update(updated_at=timezone.now())
    try:
        gateway.get().submit(list(order_ids))
    except Exception as error:
        alerts.error(
            "orders %s were not sent to the market (%s: %s): they stay pending and are sent again within %g s",
            list(order_ids),
            type(error).__name__,
            error,
            settings.ORDER_RESUBMIT_SECONDS,
        )
        return False
    return True


def mark_submitted(order_ids: Iterable[int]) -> None:
    order_ids = list(order_ids)
    Order.objects.filter(pk__in=order_ids, status=OrderStatus.PENDING).update(
        status=OrderStatus.SUBMITTED, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: live.publish(order_ids))


def mark_cancelled(order_id: int) -> bool:
    """The exchange confirmed a cancel: the unfilled rest is released. False if it was no longer working."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or not order.is_working:
            return False
        order.status, order.updated_at = OrderStatus.CANCELLED, timezone.now()
        order.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: live.publish([order_id]))
    return True


def mark_rejected(order_id: int, reason: str) -> bool:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or not order.is_working:
            return False
        order.status, order.reject_reason, order.updated_at = OrderStatus.REJECTED, reason[:2000], timezone.now()
        order.save(update_fields=["status", "reject_reason", "updated_at"])
        transaction.on_commit(lambda: live.publish([order_id]))
    return True


def average_fill_prices(order_ids: Iterable[int]) -> dict[int, Decimal]:
    """Each of these orders' average fill price (those filled at all), in one query."""
    fills: dict[int, list[tuple[int, Decimal]]] = {}
    for order_id, quantity, price in Fill.objects.filter(order_id__in=list(order_ids)).values_list(
        "order_id", "quantity", "price"
    ):
        fills.setdefault(order_id, []).append((quantity, price))
    return {order_id: average_price(lines) for order_id, lines in fills.items()}


class FillTooLarge(Exception):
    """A fill whose cash could not be stored: nothing of it is booked."""


def record_fill(order_id: int, quantity: int, price: Decimal, time: datetime, reference: str) -> Fill | None:
    """Book a fill: the position moves, the cash moves (in the instrument's currency, less the expected
    costs), the order follows, and the account is recomputed; a call met this way closes with cause
    ``liquidation``. A fill reported twice (same reference) or for an order no longer working (a cancel
    won) is not booked. One the database undid to break a deadlock (a writer outside the console's
    lock order) is booked again, whole, up to 3 tries in all (inside the caller's transaction: once, and
    the caller runs it again)."""
    what = f"the fill {reference!r} of order {order_id}"
    return atomic_again(lambda: _record_fill(order_id, quantity, price, time, reference), what=what)


def _record_fill(order_id: int, quantity: int, price: Decimal, time: datetime, reference: str) -> Fill | None:
    order = Order.objects.select_for_update().select_related("instrument", "account").filter(pk=order_id).first()
    if order is None or not order.is_working or Fill.objects.filter(reference=reference).exists():
        return None
    quantity = min(quantity, order.remaining)
    if quantity <= 0:
        return None
    instrument, account = order.instrument, order.account
    # The exchange's fill is booked even where a book written since holds no position: it happened.
    position, _created = Position.objects.select_for_update().get_or_create(
        account=account, instrument=instrument, defaults={"quantity": 0}
    )
    sign = 1 if order.side == Side.SELL else -1
    rules = rule_set(account.kind)
    with localcontext(ENGINE_CONTEXT):
        value = quantity * price * instrument.multiplier  # in the instrument's currency
        cost = value * rules.liquidation_cost_rate
    position.quantity -= sign * quantity
    if position.quantity:
        position.save(update_fields=["quantity"])
    else:
        position.delete()
    balance, _created = CashBalance.objects.select_for_update().get_or_create(
        account=account, currency=instrument.currency, defaults={"amount": Decimal("0")}
    )
    balance.amount = balance.amount + round_money(sign * value - cost)
    if abs(balance.amount) >= AMOUNT_LIMIT:
        raise FillTooLarge(
            f"a fill of {quantity} at {price} takes the {instrument.currency} balance to {balance.amount},"
            " more than a cash balance can hold"
        )
    balance.save(update_fields=["amount"])
    order.filled_quantity += quantity
    order.status = OrderStatus.FILLED if order.filled_quantity == order.quantity else OrderStatus.PARTIALLY_FILLED
    order.updated_at = timezone.now()
    order.save(update_fields=["filled_quantity", "status", "updated_at"])
    fill = Fill.objects.create(order=order, quantity=quantity, price=price, time=time, reference=reference)
    transaction.on_commit(lambda: live.publish([order_id]))
    transaction.on_commit(lambda: _positions_moved(account.pk))
    risk_services.recompute_accounts(account_ids=[account.pk], causes={account.pk: CloseCause.LIQUIDATION})
    return fill
