"""Stock the broker must get back (docs/recovery.md). Pure: no ORM, no clock; whole numbers of shares.

- **Covered calls**: per account and underlying stock, the shares its short call options need (the sum
  of contracts x multiplier; an expired option needs none) against the shares it holds long (0 when
  it is short). Listed when it needs more than it holds.
- **Short stock**: each short stock position to buy back, with why: the account may not short (a cash
  account: all of it); the stock may not be sold short (all of it); or the lending pool, when the
  stock's clients are short more than the prime broker can lend. The recall (lent - lendable) is met
  first by the shorts bought back in full for another reason; the rest is shared among the other
  shorts of that stock pro rata to their quantity, each share rounded up to whole lots and at most
  the short.
- **Lending**: per stock the prime broker reports on: lendable, lent (the clients' shorts), how many
  clients are short, and the recall.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

CANNOT_SHORT = "account_cannot_short"
NOT_SHORTABLE = "not_shortable"
LENDING_POOL = "lending_pool"
REASONS = (CANNOT_SHORT, NOT_SHORTABLE, LENDING_POOL)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    kind: str = "stock"  # or "option"
    lot_size: int = 1
    multiplier: int = 1
    shortable: bool = True
    underlying: str | None = None
    option_type: str = ""  # "call" / "put" for an option
    expired: bool = False  # an option past its expiry day: it no longer needs cover


@dataclass(frozen=True)
class Holding:
    account_no: str
    account_kind: str  # "margin", "intraday", "cash"
    symbol: str
    quantity: int  # negative: short


@dataclass(frozen=True)
class CoveredCall:
    account_no: str
    underlying: str
    options: tuple[tuple[str, int], ...]  # (option symbol, contracts short)
    required: int
    held: int

    @property
    def shortfall(self) -> int:
        return self.required - self.held


@dataclass(frozen=True)
class ShortStock:
    account_no: str
    symbol: str
    short_quantity: int  # shares short (positive)
    quantity: int  # shares to buy back
    reason: str


@dataclass(frozen=True)
class Lending:
    symbol: str
    lendable: int
    lent: int
    clients: int
    recall: int  # 0 when the pool is not under water

    @property
    def utilisation(self) -> Decimal | None:
        """Lent as a fraction of lendable; None when nothing is lendable."""
        return Decimal(self.lent) / Decimal(self.lendable) if self.lendable else None


@dataclass
class Scan:
    covered_calls: list[CoveredCall] = field(default_factory=list)
    short_stock: list[ShortStock] = field(default_factory=list)
    lending: list[Lending] = field(default_factory=list)


def covered_calls(holdings: Iterable[Holding], instruments: Mapping[str, Instrument]) -> list[CoveredCall]:
    options: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    stock: dict[tuple[str, str], int] = defaultdict(int)
    for holding in holdings:
        instrument = instruments[holding.symbol]
        if instrument.kind == "option":
            if (
                instrument.option_type == "call"
                and instrument.underlying
                and holding.quantity < 0
                and not instrument.expired
            ):
                options[(holding.account_no, instrument.underlying)].append((holding.symbol, -holding.quantity))
        else:
            stock[(holding.account_no, holding.symbol)] += holding.quantity
    found = []
    for (account_no, underlying), shorts in options.items():
        required = sum(contracts * instruments[symbol].multiplier for symbol, contracts in shorts)
        held = max(0, stock.get((account_no, underlying), 0))
        if required > held:
            found.append(CoveredCall(account_no, underlying, tuple(sorted(shorts)), required, held))
    return sorted(found, key=lambda item: (item.account_no, item.underlying))


def up_to_lots(quantity: int, lot: int) -> int:
    """A quantity rounded up to whole lots."""
    lot = max(1, lot)
    return -(-quantity // lot) * lot


def _round_up_to_lots(numerator: int, denominator: int, lot: int) -> int:
    """numerator / denominator rounded up to whole lots, exactly (integers only)."""
    return -(-numerator // (denominator * lot)) * lot


def short_stock(
    holdings: Iterable[Holding], instruments: Mapping[str, Instrument], lendable: Mapping[str, int]
) -> tuple[list[ShortStock], list[Lending]]:
    shorts: dict[str, list[Holding]] = defaultdict(list)
    for holding in holdings:
        if holding.quantity < 0 and instruments[holding.symbol].kind != "option":
            shorts[holding.symbol].append(holding)
    found: list[ShortStock] = []
    pools: list[Lending] = []
    for symbol in sorted(set(shorts) | set(lendable)):
        instrument = instruments.get(symbol)
        positions = sorted(shorts.get(symbol, []), key=lambda holding: holding.account_no)
        others = []
        recovered = 0
        for holding in positions:
            short = -holding.quantity
            reason = (
                CANNOT_SHORT
                if holding.account_kind == "cash"
                else NOT_SHORTABLE
                if instrument is not None and not instrument.shortable
                else None
            )
            if reason:
                found.append(ShortStock(holding.account_no, symbol, short, short, reason))
                recovered += short
            else:
                others.append(holding)
        if symbol not in lendable:
            continue
        lent = sum(-holding.quantity for holding in positions)
        recall = max(0, lent - lendable[symbol])
        pools.append(Lending(symbol, lendable[symbol], lent, len({h.account_no for h in positions}), recall))
        rest = recall - recovered
        total = sum(-holding.quantity for holding in others)
        if rest <= 0 or total <= 0:
            continue
        lot = instrument.lot_size if instrument is not None else 1
        for holding in others:
            short = -holding.quantity
            share = min(short, _round_up_to_lots(rest * short, total, lot))
            if share > 0:
                found.append(ShortStock(holding.account_no, symbol, short, share, LENDING_POOL))
    found.sort(key=lambda item: (item.account_no, item.symbol))
    return found, pools


def scan(holdings: Iterable[Holding], instruments: Mapping[str, Instrument], lendable: Mapping[str, int]) -> Scan:
    holdings = list(holdings)
    stock, pools = short_stock(holdings, instruments, lendable)
    return Scan(covered_calls=covered_calls(holdings, instruments), short_stock=stock, lending=pools)
