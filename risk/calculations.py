"""The margin engine: the figures of docs/domain.md as pure functions over plain data.

No ORM, no clock, no floats. Every figure the console shows comes from here. Figures are computed
exactly and rounded once, by :func:`round_figures`, when they are stored or shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")
RATIO_UNIT = Decimal("0.0001")
PRICE_UNIT = Decimal("0.000001")  # a price's places, as the book stores prices (book.models.PRICE_PLACES)
HKD = "HKD"

# Enough digits that no realistic book loses precision before the final rounding.
ENGINE_CONTEXT = Context(prec=50, rounding=ROUND_HALF_UP)

ILLIQUID_STATUSES = frozenset({"delisted", "long_suspended"})

DEBIT = "debit"
FORCE_CALL = "force_call"
MARGIN_CALL = "margin_call"
EXCESS_FINANCING = "excess_financing"


class MissingFxRate(KeyError):
    def __init__(self, currency: str):
        super().__init__(currency)
        self.currency = currency

    def __str__(self):
        return f"no FX rate for currency {self.currency!r}"


@dataclass(frozen=True, slots=True)
class InstrumentTerms:
    """What the engine needs of an instrument."""

    price: Decimal
    currency: str = HKD
    multiplier: int = 1
    status: str = "normal"
    im_rate: Decimal = ZERO
    mm_rate: Decimal = ZERO
    fm_rate: Decimal = ZERO
    short_im_rate: Decimal | None = None
    short_mm_rate: Decimal | None = None
    short_fm_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountTerms:
    credit_limit: Decimal = ZERO
    accrued_interest: Decimal = ZERO
    debt_margin: Decimal = ZERO
    trading_limit: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Valuation:
    """An instrument priced in HKD per unit held, with the rates that apply to longs and shorts."""

    unit_value: Decimal
    illiquid: bool
    long_rates: tuple[Decimal, Decimal, Decimal]
    short_rates: tuple[Decimal, Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class Figures:
    total_cash: Decimal
    long_mv: Decimal
    short_mv: Decimal
    equity: Decimal
    illiquid_mv: Decimal
    liquid_nav: Decimal
    exposure: Decimal
    nav_ratio: Decimal | None
    im: Decimal
    mm: Decimal
    fm: Decimal
    loan: Decimal
    excess_financing: Decimal
    margin_shortfall: Decimal
    force_shortfall: Decimal
    call_amount: Decimal
    call_type: str | None

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def fx_rate(fx: Mapping[str, Decimal], currency: str) -> Decimal:
    if currency == HKD:
        return ONE
    try:
        return fx[currency]
    except KeyError:
        raise MissingFxRate(currency) from None


def value_instrument(terms: InstrumentTerms, fx: Mapping[str, Decimal]) -> Valuation:
    with localcontext(ENGINE_CONTEXT):
        unit_value = terms.price * terms.multiplier * fx_rate(fx, terms.currency)
    if terms.status in ILLIQUID_STATUSES:
        # Delisted and long-suspended stock lends nothing: every rate is 1.
        return Valuation(unit_value, True, (ONE, ONE, ONE), (ONE, ONE, ONE))
    long_rates = (terms.im_rate, terms.mm_rate, terms.fm_rate)
    short_rates = (
        terms.im_rate if terms.short_im_rate is None else terms.short_im_rate,
        terms.mm_rate if terms.short_mm_rate is None else terms.short_mm_rate,
        terms.fm_rate if terms.short_fm_rate is None else terms.short_fm_rate,
    )
    return Valuation(unit_value, False, long_rates, short_rates)


def total_cash_hkd(cash: Mapping[str, Decimal], fx: Mapping[str, Decimal]) -> Decimal:
    with localcontext(ENGINE_CONTEXT):
        return sum((amount * fx_rate(fx, currency) for currency, amount in cash.items()), ZERO)


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums an account's figures are made of: HKD cash and its holdings' values and margins. The
    bulk recompute adds up each account's holdings; the liquidation plan moves one holding at a time
    (:func:`holding_totals` out, then in again) and asks :func:`figures_from_totals` each time."""

    total_cash: Decimal = ZERO
    long_mv: Decimal = ZERO
    short_mv: Decimal = ZERO
    illiquid_mv: Decimal = ZERO
    im: Decimal = ZERO
    mm: Decimal = ZERO
    fm: Decimal = ZERO
    open_positions: int = 0

    def plus(self, other: Totals, sign: int = 1) -> Totals:
        """These totals with another's added (``sign`` -1: taken away), exactly (the engine's context)."""
        op = ENGINE_CONTEXT.add if sign > 0 else ENGINE_CONTEXT.subtract
        return Totals(
            total_cash=op(self.total_cash, other.total_cash),
            long_mv=op(self.long_mv, other.long_mv),
            short_mv=op(self.short_mv, other.short_mv),
            illiquid_mv=op(self.illiquid_mv, other.illiquid_mv),
            im=op(self.im, other.im),
            mm=op(self.mm, other.mm),
            fm=op(self.fm, other.fm),
            open_positions=self.open_positions + sign * other.open_positions,
        )


def holding_totals(valuation: Valuation, quantity: int) -> Totals:
    """One holding's share of the totals (nothing for a zero quantity)."""
    if not quantity:
        return Totals()
    with localcontext(ENGINE_CONTEXT):
        mv = valuation.unit_value * quantity
        if quantity > 0:
            im_rate, mm_rate, fm_rate = valuation.long_rates
            gross = mv
            long_mv, short_mv, illiquid_mv = mv, ZERO, (mv if valuation.illiquid else ZERO)
        else:
            im_rate, mm_rate, fm_rate = valuation.short_rates
            gross = -mv
            long_mv, short_mv, illiquid_mv = ZERO, mv, ZERO
        return Totals(
            long_mv=long_mv,
            short_mv=short_mv,
            illiquid_mv=illiquid_mv,
            im=gross * im_rate,
            mm=gross * mm_rate,
            fm=gross * fm_rate,
            open_positions=1,
        )


def figures_from_valuations(
    *,
    account: AccountTerms,
    total_cash: Decimal,
    holdings: Iterable[tuple[Valuation, int]],
    call_coefficient: Decimal = ONE,
) -> Figures:
    """An account's figures from its HKD cash and valued holdings.

    The bulk recompute values each instrument once and calls this per account.
    """
    with localcontext(ENGINE_CONTEXT):
        long_mv = short_mv = illiquid_mv = im = mm = fm = ZERO
        open_positions = 0
        for valuation, quantity in holdings:
            if not quantity:
                continue
            open_positions += 1
            mv = valuation.unit_value * quantity
            if quantity > 0:
                long_mv += mv
                if valuation.illiquid:
                    illiquid_mv += mv
                im_rate, mm_rate, fm_rate = valuation.long_rates
                gross = mv
            else:
                short_mv += mv
                im_rate, mm_rate, fm_rate = valuation.short_rates
                gross = -mv
            im += gross * im_rate
            mm += gross * mm_rate
            fm += gross * fm_rate
    totals = Totals(total_cash, long_mv, short_mv, illiquid_mv, im, mm, fm, open_positions)
    return figures_from_totals(account=account, totals=totals, call_coefficient=call_coefficient)


@dataclass(frozen=True, slots=True)
class Cover:
    """What a call is measured on: the requirement (MM, or IM, times the call coefficient), the
    shortfall against it, and the excess financing."""

    requirement: Decimal
    shortfall: Decimal
    excess_financing: Decimal


def cover(*, account: AccountTerms, totals: Totals, call_coefficient: Decimal = ONE, target: str = "mm") -> Cover:
    """The margin shortfall (against MM or IM) and the excess financing, from the totals: the two
    figures a call is measured on, without the rest (the liquidation plan asks this many times)."""
    with localcontext(ENGINE_CONTEXT):
        equity = totals.total_cash + totals.long_mv + totals.short_mv
        requirement = (totals.mm if target == "mm" else totals.im) * call_coefficient
        charges = account.accrued_interest + account.debt_margin - account.trading_limit
        loan = max(ZERO, -totals.total_cash)
        return Cover(requirement, requirement - equity + charges, max(ZERO, loan - account.credit_limit))


def figures_from_totals(*, account: AccountTerms, totals: Totals, call_coefficient: Decimal = ONE) -> Figures:
    """The core of the engine: every figure of docs/domain.md from the totals."""
    with localcontext(ENGINE_CONTEXT):
        total_cash, long_mv, short_mv = totals.total_cash, totals.long_mv, totals.short_mv
        illiquid_mv, im, mm, fm = totals.illiquid_mv, totals.im, totals.mm, totals.fm
        equity = total_cash + long_mv + short_mv
        liquid_nav = equity - illiquid_mv
        exposure = long_mv - illiquid_mv - short_mv
        denominator = max(liquid_nav, exposure)
        nav_ratio = liquid_nav / denominator if denominator > 0 else None
        loan = max(ZERO, -total_cash)
        measured = cover(account=account, totals=totals, call_coefficient=call_coefficient)
        excess_financing, margin_shortfall = measured.excess_financing, measured.shortfall
        charges = account.accrued_interest + account.debt_margin - account.trading_limit
        force_shortfall = fm - equity + charges
        call_amount = max(ZERO, margin_shortfall, excess_financing)

        if not totals.open_positions and equity - account.accrued_interest < 0:
            call_type = DEBIT
        elif force_shortfall > 0:
            call_type = FORCE_CALL
        elif margin_shortfall > 0:
            call_type = MARGIN_CALL
        elif excess_financing > 0:
            call_type = EXCESS_FINANCING
        else:
            call_type = None

    return Figures(
        total_cash=total_cash,
        long_mv=long_mv,
        short_mv=short_mv,
        equity=equity,
        illiquid_mv=illiquid_mv,
        liquid_nav=liquid_nav,
        exposure=exposure,
        nav_ratio=nav_ratio,
        im=im,
        mm=mm,
        fm=fm,
        loan=loan,
        excess_financing=excess_financing,
        margin_shortfall=margin_shortfall,
        force_shortfall=force_shortfall,
        call_amount=call_amount,
        call_type=call_type,
    )


def compute_figures(
    *,
    account: AccountTerms,
    cash: Mapping[str, Decimal],
    positions: Iterable[tuple[InstrumentTerms, int]],
    fx: Mapping[str, Decimal],
    call_coefficient: Decimal = ONE,
) -> Figures:
    """An account's exact figures. ``fx`` maps currency to HKD per unit (HKD itself is always 1)."""
    return figures_from_valuations(
        account=account,
        total_cash=total_cash_hkd(cash, fx),
        holdings=[(value_instrument(terms, fx), quantity) for terms, quantity in positions],
        call_coefficient=call_coefficient,
    )


def round_money(amount: Decimal) -> Decimal:
    """The one rounding of money: 2 decimals, half up (and never a negative zero)."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP, context=ENGINE_CONTEXT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def round_ratio(ratio: Decimal | None) -> Decimal | None:
    if ratio is None:
        return None
    rounded = ratio.quantize(RATIO_UNIT, rounding=ROUND_HALF_UP, context=ENGINE_CONTEXT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def average_price(fills: Iterable[tuple[int, Decimal]]) -> Decimal | None:
    """The average price of fills ``(quantity, price)``, weighted by quantity, half up to a price's
    places; None for no fill."""
    fills = list(fills)
    quantity = sum(filled for filled, _price in fills)
    if not quantity:
        return None
    with localcontext(ENGINE_CONTEXT):
        value = sum((filled * price for filled, price in fills), Decimal(0))
        return (value / quantity).quantize(PRICE_UNIT, rounding=ROUND_HALF_UP)


def round_figures(figures: Figures) -> Figures:
    """Figures as stored and shown: money to the cent, the ratio to 4 places."""
    changes = {
        f.name: round_money(getattr(figures, f.name))
        for f in fields(figures)
        if f.name not in ("nav_ratio", "call_type")
    }
    return replace(figures, nav_ratio=round_ratio(figures.nav_ratio), **changes)


@dataclass(frozen=True, slots=True)
class CashLine:
    currency: str
    amount: Decimal
    fx_rate: Decimal
    hkd_value: Decimal


@dataclass(frozen=True, slots=True)
class PositionLine:
    quantity: int
    market_value: Decimal  # HKD, negative for a short
    im_rate: Decimal
    mm_rate: Decimal
    fm_rate: Decimal
    im: Decimal
    mm: Decimal
    fm: Decimal
    illiquid: bool


def cash_lines(cash: Mapping[str, Decimal], fx: Mapping[str, Decimal]) -> list[CashLine]:
    """Cash by currency with its HKD value, rounded for display."""
    lines = []
    with localcontext(ENGINE_CONTEXT):
        for currency, amount in sorted(cash.items(), key=lambda item: (item[0] != HKD, item[0])):
            rate = fx_rate(fx, currency)
            lines.append(CashLine(currency, amount, rate, round_money(amount * rate)))
    return lines


def position_line(terms: InstrumentTerms, quantity: int, fx: Mapping[str, Decimal]) -> PositionLine:
    """One holding's value and margins, as the engine counts them, rounded for display."""
    valuation = value_instrument(terms, fx)
    with localcontext(ENGINE_CONTEXT):
        market_value = valuation.unit_value * quantity
        rates = valuation.long_rates if quantity >= 0 else valuation.short_rates
        gross = abs(market_value)
        im, mm, fm = (gross * rate for rate in rates)
    return PositionLine(
        quantity=quantity,
        market_value=round_money(market_value),
        im_rate=rates[0],
        mm_rate=rates[1],
        fm_rate=rates[2],
        im=round_money(im),
        mm=round_money(mm),
        fm=round_money(fm),
        illiquid=valuation.illiquid,
    )
