"""The liquidation plan: orders that bring an account's call amount to 0 (docs/liquidation.md).

Pure: no ORM, no clock. The figures are the engine's (:mod:`risk.calculations`), projected as if the
orders filled at the current price: a line's quantity moves, its value comes into (or, for a buy-back,
goes out of) cash in its own currency, less the expected cost (commission, stamp duty, levies) at the
cost rate.

**Covered** means the projected margin shortfall, measured against the target requirement (MM, or IM),
is at most ``-buffer x`` that requirement, and the projected excess financing is at most 0. With MM,
no buffer and no cost, that is the engine's call amount reaching 0.

**The default plan** is the one of these that trades the least value among those that cover (or, when
none covers, that leaves the least call amount): two simple plans, each trimmed, and each line that
covers alone (its fewest lots). Both simple plans walk the lines by maintenance rate (the short rate
for a short), highest first, then market value, largest first, then symbol; for each line they take
the fewest whole lots that cover and stop; failing that they take all of it (the first plan always;
the second only when that lowers the call amount). Trimming then takes each order down to the fewest
lots that still cover with the others, which never raises the value traded nor loses the cover.

Never ordered: a suspended, long-suspended or delisted instrument, an expired option; more than the
free quantity (the position less its working orders); a part lot, except a last odd lot that closes
the position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext

from risk.calculations import (
    ENGINE_CONTEXT,
    ONE,
    ZERO,
    AccountTerms,
    Cover,
    Figures,
    InstrumentTerms,
    Totals,
    cover,
    figures_from_totals,
    fx_rate,
    holding_totals,
    total_cash_hkd,
    value_instrument,
)

SELL = "sell"
BUY = "buy"
MM = "mm"
IM = "im"
TRADABLE_STATUS = "normal"

Point = tuple[Decimal, Decimal, Decimal]


@dataclass(frozen=True)
class Line:
    """One position as the plan sees it. ``working`` is the quantity already in working orders that
    close it (always positive); ``filling`` the part of it priced to fill near the market (None: all
    of it). Only that part is counted as filled: an order priced far from the last price covers
    nothing until the market reaches it, but its quantity stays reserved."""

    symbol: str
    terms: InstrumentTerms
    quantity: int
    lot_size: int = 1
    working: int = 0
    expired: bool = False  # an option past its expiry day: no market to trade it in
    filling: int | None = None

    @property
    def expected(self) -> int:
        """The working quantity counted as filled."""
        return self.working if self.filling is None else min(self.filling, self.working)

    @property
    def side(self) -> str:
        return SELL if self.quantity > 0 else BUY

    @property
    def free(self) -> int:
        return max(0, abs(self.quantity) - self.working)

    @property
    def tradable(self) -> bool:
        """Whether the plan may trade it: a normal instrument, not an expired option, with a last price to
        set a limit from (a price of 0 is no market to sell into) and a free quantity."""
        return (
            self.quantity != 0
            and self.terms.status == TRADABLE_STATUS
            and not self.expired
            and self.terms.price > 0
            and self.free > 0
        )


@dataclass(frozen=True)
class Settings:
    target: str = MM
    buffer: Decimal = ZERO  # a fraction of the requirement: 0.05 is 5%
    cost_rate: Decimal = Decimal("0.002")  # a fraction of the value traded
    call_coefficient: Decimal = ONE


@dataclass(frozen=True)
class Order:
    symbol: str
    side: str
    quantity: int
    value: Decimal  # HKD, at the current price


@dataclass
class Plan:
    orders: list[Order]
    value: Decimal  # HKD traded
    covers: bool
    figures: Figures  # projected, exact (round with risk.calculations.round_figures to show)
    shortfall: Decimal  # what is left to cover (0 when it covers), as the plan measures it
    before: Figures  # the figures once the working orders have filled, before this plan
    lines: dict[str, LineCover] = field(default_factory=dict)


@dataclass(frozen=True)
class LineCover:
    """For the details page: the fewest shares of this line alone that would cover the call (None when
    it cannot alone), and its free quantity."""

    free: int
    covering_quantity: int | None


class _State:
    """The account as it would stand with some quantities ordered: totals moved one line at a time."""

    def __init__(self, account, cash, lines, fx, settings):
        self.account = account
        self.settings = settings
        self.fx = fx
        self.lines = {line.symbol: line for line in lines}
        self.valuations = {line.symbol: value_instrument(line.terms, fx) for line in lines}
        self.fx_of = {line.symbol: fx_rate(fx, line.terms.currency) for line in lines}
        totals = Totals(total_cash=total_cash_hkd(cash, fx))
        for line in lines:
            totals = totals.plus(holding_totals(self.valuations[line.symbol], line.quantity))
        self.base = totals
        self._deltas: dict[tuple[str, int, int], Totals] = {}
        self._steps: dict[tuple[str, int, int], Point] = {}
        with localcontext(ENGINE_CONTEXT):
            self.charges = account.accrued_interest + account.debt_margin - account.trading_limit

    def unit_value(self, symbol: str) -> Decimal:
        return self.valuations[symbol].unit_value

    def delta(self, symbol: str, held: int, quantity: int) -> Totals:
        """What closing ``quantity`` of a line holding ``held`` (sold or bought back) adds to the totals:
        the holding's change, and its value into (or out of) cash less the cost.

        Short of closing the position, every part of it is the change for one share times the
        quantity (the same rates apply all the way): exact in the engine's context, and far cheaper
        than valuing the holding twice for each quantity a bisection tries."""
        key = (symbol, held, quantity)
        found = self._deltas.get(key)
        if found is None:
            if quantity == abs(held) or abs(held) == 1:
                found = self._exact_delta(symbol, held, quantity)
            else:
                unit = self._deltas.get((symbol, held, 1)) or self._exact_delta(symbol, held, 1)
                self._deltas[(symbol, held, 1)] = unit
                multiply = ENGINE_CONTEXT.multiply
                factor = Decimal(quantity)
                found = Totals(
                    total_cash=multiply(unit.total_cash, factor),
                    long_mv=multiply(unit.long_mv, factor),
                    short_mv=multiply(unit.short_mv, factor),
                    illiquid_mv=multiply(unit.illiquid_mv, factor),
                    im=multiply(unit.im, factor),
                    mm=multiply(unit.mm, factor),
                    fm=multiply(unit.fm, factor),
                    open_positions=0,
                )
            self._deltas[key] = found
        return found

    def _exact_delta(self, symbol: str, held: int, quantity: int) -> Totals:
        valuation = self.valuations[symbol]
        sign = 1 if held > 0 else -1
        with localcontext(ENGINE_CONTEXT):
            traded = valuation.unit_value * quantity  # HKD
            cash = sign * traded - traded * self.settings.cost_rate
        change = holding_totals(valuation, held - sign * quantity).plus(holding_totals(valuation, held), -1)
        return replace(change, total_cash=change.total_cash + cash)

    def moved(self, totals: Totals, symbol: str, held: int, quantity: int) -> Totals:
        """The totals after ``quantity`` of a line holding ``held`` is closed."""
        if not quantity:
            return totals
        return totals.plus(self.delta(symbol, held, quantity))

    # The search works on points: (HKD cash, long + short market value, the target requirement before
    # the call coefficient), all a call is measured on. Moving a line adds its step; the same exact sums
    # as moving the totals, without building them.

    def point(self, totals: Totals) -> Point:
        requirement = totals.mm if self.settings.target == MM else totals.im
        return (totals.total_cash, ENGINE_CONTEXT.add(totals.long_mv, totals.short_mv), requirement)

    def step(self, symbol: str, held: int, quantity: int) -> Point:
        key = (symbol, held, quantity)
        found = self._steps.get(key)
        if found is None:
            found = self._steps[key] = self.point(self.delta(symbol, held, quantity))
        return found

    def at(self, point: Point, symbol: str, held: int, quantity: int) -> Point:
        """The point after ``quantity`` of a line holding ``held`` is closed."""
        if not quantity:
            return point
        step = self.step(symbol, held, quantity)
        add = ENGINE_CONTEXT.add
        return (add(point[0], step[0]), add(point[1], step[1]), add(point[2], step[2]))

    def parts(self, point: Point) -> tuple[Decimal, Decimal]:
        """What is left of the margin part (with the buffer) and the excess financing: as
        :meth:`margin_left` and :func:`risk.calculations.cover` compute them from the totals."""
        context = ENGINE_CONTEXT
        cash, market_value, requirement = point
        requirement = context.multiply(requirement, self.settings.call_coefficient)
        shortfall = context.add(context.subtract(requirement, context.add(cash, market_value)), self.charges)
        margin = max(ZERO, context.add(shortfall, context.multiply(self.settings.buffer, requirement)))
        loan = max(ZERO, -cash)
        return margin, max(ZERO, context.subtract(loan, self.account.credit_limit))

    def left(self, point: Point) -> Decimal:
        """What is left to cover at a point: 0 when covered (:meth:`shortfall` of the same totals)."""
        margin, excess = self.parts(point)
        return max(margin, excess)

    def figures(self, totals: Totals) -> Figures:
        return figures_from_totals(account=self.account, totals=totals, call_coefficient=self.settings.call_coefficient)

    def cover(self, totals: Totals) -> Cover:
        return cover(
            account=self.account,
            totals=totals,
            call_coefficient=self.settings.call_coefficient,
            target=self.settings.target,
        )

    def margin_left(self, measured: Cover) -> Decimal:
        with localcontext(ENGINE_CONTEXT):
            return max(ZERO, measured.shortfall + self.settings.buffer * measured.requirement)

    def shortfall(self, totals: Totals) -> Decimal:
        """What is left to cover: 0 when covered."""
        measured = self.cover(totals)
        return max(self.margin_left(measured), measured.excess_financing)


class _Candidates:
    """The quantities that may be ordered of a line, increasing: whole lots up to the free quantity,
    and the whole position when that closes it with an odd lot (index 0 is nothing)."""

    def __init__(self, line: Line, held: int, free: int, at_most: int | None = None):
        self.lot, self.free = line.lot_size, free
        self.lots = free // line.lot_size
        count = self.lots + 1 + (1 if free == abs(held) and free % line.lot_size else 0)
        if at_most is not None and at_most < free:
            count = min(count, at_most // self.lot + 1)
        self.count = count

    def __getitem__(self, index: int) -> int:
        return index * self.lot if index <= self.lots else self.free

    @property
    def last(self) -> int:
        return self[self.count - 1]


def _fewest_covering(
    state: _State, point: Point, line: Line, held: int, free: int, at_most: int | None = None
) -> int | None:
    """The fewest of the line's candidate quantities that cover, given the other lines as at ``point``;
    None when none does.

    Moving one line changes the margin part of what is left by an affine amount and the excess
    financing monotonically, so each is on one side of 0 over an interval of quantities and their
    intersection is an interval: found by bisection at both ends, never by trying every lot."""
    quantities = _Candidates(line, held, free, at_most)
    if quantities.count == 1:
        return None

    seen: dict[int, tuple[Decimal, Decimal]] = {}

    def parts(index: int) -> tuple[Decimal, Decimal]:
        found = seen.get(index)
        if found is None:
            found = seen[index] = state.parts(state.at(point, line.symbol, held, quantities[index]))
        return found

    last = quantities.count - 1
    low, high = 0, last
    for part in (0, 1):
        first, final = parts(0)[part], parts(last)[part]
        if final <= first:  # non-increasing: covered from some index on
            if final > 0:
                return None
            low = max(low, _first_index(lambda i, part=part: parts(i)[part] <= 0, 0, last))
        else:  # increasing: covered up to some index
            if first > 0:
                return None
            high = min(high, _last_index(lambda i, part=part: parts(i)[part] <= 0, 0, last))
    if low > high:
        return None
    return quantities[low]


def _first_index(predicate, low: int, high: int) -> int:
    """The first index in [low, high] where a predicate that turns true and stays true holds."""
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _last_index(predicate, low: int, high: int) -> int:
    """The last index in [low, high] where a predicate that holds and then stops holding holds."""
    while low < high:
        middle = (low + high + 1) // 2
        if predicate(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _walk_order(state: _State, lines: Iterable[Line]) -> list[Line]:
    def key(line: Line):
        valuation = state.valuations[line.symbol]
        rate = valuation.long_rates[1] if line.quantity > 0 else valuation.short_rates[1]
        market_value = abs(valuation.unit_value * line.quantity)
        return (-rate, -market_value, line.symbol)

    return sorted(lines, key=key)


def _simple(state: _State, start: Point, held: dict[str, int], lines: list[Line], take_all_always: bool):
    point, taken = start, {}
    left = state.left(point)
    for line in lines:
        if left <= 0:
            break
        free = line.free
        quantity = _fewest_covering(state, point, line, held[line.symbol], free)
        if quantity is not None:
            taken[line.symbol] = quantity
            point = state.at(point, line.symbol, held[line.symbol], quantity)
            left = state.left(point)
            break
        everything = _Candidates(line, held[line.symbol], free).last
        if not everything:
            continue
        after = state.at(point, line.symbol, held[line.symbol], everything)
        left_after = state.left(after)
        if take_all_always or left_after < left:
            taken[line.symbol] = everything
            point, left = after, left_after
    return taken, point


def _point_of(state: _State, start: Point, held: dict[str, int], taken: Mapping[str, int]) -> Point:
    point = start
    for symbol, quantity in taken.items():
        point = state.at(point, symbol, held[symbol], quantity)
    return point


def _totals_of(state: _State, start: Totals, held: dict[str, int], taken: Mapping[str, int]) -> Totals:
    totals = start
    for symbol, quantity in taken.items():
        totals = state.moved(totals, symbol, held[symbol], quantity)
    return totals


def _trim(state: _State, start: Point, held: dict[str, int], taken: dict[str, int]) -> dict[str, int]:
    """Take each order down to the fewest lots that still cover with the others (last order first),
    and again while a round takes any down: an order kept because the others, as they were, did not
    cover without it may be needless once they are trimmed (a short bought back to its last odd lot
    asks more than its whole lots do)."""
    taken = dict(taken)
    current = _point_of(state, start, held, taken)
    subtract = ENGINE_CONTEXT.subtract
    for _round in range(len(taken) + 1):
        before = dict(taken)
        for symbol in reversed(list(taken)):
            step = state.step(symbol, held[symbol], taken[symbol])
            others = (subtract(current[0], step[0]), subtract(current[1], step[1]), subtract(current[2], step[2]))
            if state.left(others) <= 0:
                del taken[symbol]
                current = others
                continue
            line = state.lines[symbol]
            fewest = _fewest_covering(state, others, line, held[symbol], line.free, at_most=taken[symbol])
            if fewest is not None and fewest < taken[symbol]:
                taken[symbol] = fewest
                current = state.at(others, symbol, held[symbol], fewest)
        if taken == before:
            break
    return taken


def plan(
    *,
    account: AccountTerms,
    cash: Mapping[str, Decimal],
    lines: Sequence[Line],
    fx: Mapping[str, Decimal],
    settings: Settings = Settings(),
    only: Iterable[str] | None = None,
    per_line: bool = False,
) -> Plan:
    """The default plan for an account (see the module's docstring). ``only``: the symbols the trader
    allows (None: every tradable line). ``per_line``: also say, for each line, the fewest shares of it
    alone that would cover (the details page shows them)."""
    state = _State(account, cash, lines, fx, settings)
    # Working orders are counted as filled: the plan adds only what they will not do.
    held = {line.symbol: line.quantity for line in lines}
    start = state.base
    for line in lines:
        if line.expected and line.quantity:
            start = state.moved(start, line.symbol, line.quantity, min(line.expected, abs(line.quantity)))
            held[line.symbol] = line.quantity - (1 if line.quantity > 0 else -1) * min(
                line.expected, abs(line.quantity)
            )
    allowed = None if only is None else set(only)
    tradable = [line for line in lines if line.tradable and (allowed is None or line.symbol in allowed)]
    walk = _walk_order(state, tradable)
    origin = state.point(start)

    candidates = []
    trimmed: dict[tuple, tuple] = {}  # the two simple plans are often the same: trim it once
    for take_all_always in (True, False):
        taken, point = _simple(state, origin, held, walk, take_all_always)
        if state.left(point) <= 0:
            same = tuple(taken.items())
            if same not in trimmed:
                kept = _trim(state, origin, held, taken)
                trimmed[same] = (kept, _point_of(state, origin, held, kept))
            taken, point = trimmed[same]
        candidates.append((taken, point))
    # A line that covers alone may trade far less than the walk, which takes the highest rates first
    # (a whole lot of a dear stock before a few lots of a cheap one).
    alone = {}
    for line in walk:
        quantity = _fewest_covering(state, origin, line, held[line.symbol], line.free)
        alone[line.symbol] = quantity
        if quantity is not None:
            candidates.append(({line.symbol: quantity}, state.at(origin, line.symbol, held[line.symbol], quantity)))

    def rank(candidate):
        """Covering plans by the value they trade; failing that, the least left to cover."""
        taken, point = candidate
        left = state.left(point)
        value = sum((state.unit_value(s) * q for s, q in taken.items()), ZERO)
        return (left > 0, left, value)  # left is 0 for every plan that covers

    taken, _point = min(candidates, key=rank)
    totals = _totals_of(state, start, held, taken)
    orders = [
        Order(symbol, state.lines[symbol].side, quantity, state.unit_value(symbol) * quantity)
        for symbol, quantity in taken.items()
        if quantity
    ]
    per_line = {
        line.symbol: LineCover(
            free=line.free,
            covering_quantity=alone[line.symbol]
            if line.symbol in alone
            else _fewest_covering(state, origin, line, held[line.symbol], line.free)
            if line.tradable
            else None,
        )
        for line in lines
        if line.quantity and per_line
    }
    left = state.shortfall(totals)
    return Plan(
        orders=orders,
        value=sum((order.value for order in orders), ZERO),
        covers=left <= 0,
        figures=state.figures(totals),
        shortfall=left,
        before=state.figures(start),
        lines=per_line,
    )


def project(
    *,
    account: AccountTerms,
    cash: Mapping[str, Decimal],
    lines: Sequence[Line],
    fx: Mapping[str, Decimal],
    settings: Settings,
    orders: Mapping[str, int],
) -> tuple[Figures, Decimal, bool]:
    """The figures after the working orders and these quantities (symbol -> quantity) fill: for a
    trader's own quantities in the liquidation dialog. Returns the figures, what is left to cover, and
    whether it covers."""
    state = _State(account, cash, lines, fx, settings)
    totals = state.base
    for line in lines:
        quantity = min(abs(line.quantity), line.expected + orders.get(line.symbol, 0))
        totals = state.moved(totals, line.symbol, line.quantity, quantity)
    left = state.shortfall(totals)
    return state.figures(totals), left, left <= 0
