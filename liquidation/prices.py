"""HKEX order prices: the spread table, and the default price of a liquidation order.

HKEX takes no market orders in continuous trading, so a liquidation is an enhanced limit order: the
last price moved by the rule set's price band (below for a sell, above for a buy) and put on the
spread table's grid (down for a sell, up for a buy, so the band is never narrowed)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

# (up to this price, the tick below it). Above the last bound the tick is 5.
SPREAD_TABLE = (
    (Decimal("0.25"), Decimal("0.001")),
    (Decimal("0.50"), Decimal("0.005")),
    (Decimal("10"), Decimal("0.01")),
    (Decimal("20"), Decimal("0.02")),
    (Decimal("100"), Decimal("0.05")),
    (Decimal("200"), Decimal("0.10")),
    (Decimal("500"), Decimal("0.20")),
    (Decimal("1000"), Decimal("0.50")),
    (Decimal("2000"), Decimal("1")),
    (Decimal("5000"), Decimal("2")),
)
TOP_TICK = Decimal("5")
LOWEST = Decimal("0.01")  # the lowest price HKEX quotes
HIGHEST = Decimal("9995")  # and the highest


def on_spread_table(instrument) -> bool:
    """Whether an instrument's prices follow the securities spread table: a stock traded on HKEX (in
    HKD). An option's premium moves by its own ticks (HK$0.01, some classes HK$0.001), not the table's."""
    return instrument.currency == "HKD" and instrument.kind == "stock"


def tick_at(price: Decimal, *, upward: bool = True) -> Decimal:
    """The tick of the band a price is in. At a band's upper bound the tick below it applies going
    down, and the next band's going up."""
    for bound, tick in SPREAD_TABLE:
        if price < bound or (price == bound and not upward):
            return tick
    return TOP_TICK


def on_grid(price: Decimal) -> bool:
    if not price.is_finite() or not LOWEST <= price <= HIGHEST:
        return False
    tick = tick_at(price, upward=False)
    return (price % tick) == 0


def round_to_grid(price: Decimal, *, up: bool) -> Decimal:
    """The nearest valid price at or above (``up``) or at or below a price; the lowest or the highest
    price HKEX quotes where there is none beyond."""
    if price <= LOWEST:
        return LOWEST.quantize(Decimal("0.001"))
    if price >= HIGHEST:
        return HIGHEST
    tick = tick_at(price, upward=up)
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    steps = (price / tick).to_integral_value(rounding=rounding)
    candidate = steps * tick
    # Crossing a band's bound can land on the other band's grid: settle there.
    if not on_grid(candidate):
        return round_to_grid(candidate, up=up)
    return candidate.quantize(tick_at(candidate, upward=False))


def nearest_valid(price: Decimal) -> tuple[Decimal, Decimal]:
    """The two valid prices around an invalid one: the one below and the one above."""
    return round_to_grid(price, up=False), round_to_grid(price, up=True)


def default_limit(last: Decimal, *, side: str, band: Decimal, hkex: bool = True) -> Decimal:
    """The default limit price: the last price moved by ``band`` (a fraction, 0.02 for 2%), below for a
    sell and above for a buy, away from the last price: on HKEX's grid and within its prices, or, for
    a stock quoted elsewhere (``hkex`` false), in the last price's own places (at least cents)."""
    moved = last * (1 - band) if side == "sell" else last * (1 + band)
    if not hkex:
        places = max(2, -min(0, last.normalize().as_tuple().exponent))
        unit = Decimal(1).scaleb(-places)
        return max(unit, moved.quantize(unit, rounding=ROUND_FLOOR if side == "sell" else ROUND_CEILING))
    if side == "sell":
        return max(LOWEST, round_to_grid(moved, up=False))
    return round_to_grid(moved, up=True)
