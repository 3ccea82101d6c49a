"""The margin engine (SPEC §3)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.calculations import (
    AccountTerms,
    InstrumentTerms,
    MissingFxRate,
    compute_figures,
    round_figures,
    round_money,
    round_ratio,
)

FX = {"USD": Decimal("7.8")}
STOCK_A = InstrumentTerms(price=Decimal("380"), im_rate=Decimal(".30"), mm_rate=Decimal(".25"), fm_rate=Decimal(".20"))
STOCK_B = InstrumentTerms(
    price=Decimal("80"),
    im_rate=Decimal(".40"),
    mm_rate=Decimal(".30"),
    fm_rate=Decimal(".20"),
    short_im_rate=Decimal(".50"),
    short_mm_rate=Decimal(".40"),
    short_fm_rate=Decimal(".30"),
)
STOCK_C_DELISTED = InstrumentTerms(
    price=Decimal("0.50"), status="delisted", im_rate=Decimal(".5"), mm_rate=Decimal(".5"), fm_rate=Decimal(".5")
)
WORKED_ACCOUNT = AccountTerms(credit_limit=Decimal("500000"), accrued_interest=Decimal("1200"))


def test_spec_worked_example():
    figures = round_figures(
        compute_figures(
            account=WORKED_ACCOUNT,
            cash={"HKD": Decimal("-600000"), "USD": Decimal("1000")},
            positions=[(STOCK_A, 2000), (STOCK_B, -1000), (STOCK_C_DELISTED, 10000)],
            fx=FX,
        )
    )

    assert figures.total_cash == Decimal("-592200.00")
    assert figures.long_mv == Decimal("765000.00")
    assert figures.short_mv == Decimal("-80000.00")
    assert figures.equity == Decimal("92800.00")
    assert figures.illiquid_mv == Decimal("5000.00")
    assert figures.liquid_nav == Decimal("87800.00")
    assert figures.exposure == Decimal("840000.00")
    assert figures.nav_ratio == Decimal("0.1045")
    assert figures.im == Decimal("273000.00")
    assert figures.mm == Decimal("227000.00")
    assert figures.fm == Decimal("181000.00")
    assert figures.loan == Decimal("592200.00")
    assert figures.excess_financing == Decimal("92200.00")
    assert figures.margin_shortfall == Decimal("135400.00")
    assert figures.force_shortfall == Decimal("89400.00")
    assert figures.call_amount == Decimal("135400.00")
    assert figures.call_type == "force_call"


def test_no_positions_and_no_debt_has_no_call_and_no_ratio():
    figures = compute_figures(account=AccountTerms(), cash={"HKD": Decimal("1000")}, positions=[], fx={})

    assert figures.equity == Decimal("1000")
    assert figures.exposure == 0
    # liquid net assets 1000 > exposure 0, so the ratio is 1000 / 1000
    assert figures.nav_ratio == 1
    assert figures.call_amount == 0
    assert figures.call_type is None


def test_empty_account_has_no_ratio():
    figures = compute_figures(account=AccountTerms(), cash={}, positions=[], fx={})

    assert figures.nav_ratio is None
    assert figures.call_type is None


def test_debt_without_positions_is_a_debit_call():
    figures = compute_figures(
        account=AccountTerms(accrued_interest=Decimal("50")), cash={"HKD": Decimal("-1000")}, positions=[], fx={}
    )

    assert figures.call_type == "debit"
    assert figures.nav_ratio is None  # max(-1000, 0) is 0
    assert figures.margin_shortfall == Decimal("1050")
    assert figures.call_amount == Decimal("1050")


def test_negative_equity_gives_a_negative_ratio_and_a_force_call():
    stock = InstrumentTerms(price=Decimal("10"), im_rate=Decimal(".5"), mm_rate=Decimal(".4"), fm_rate=Decimal(".3"))
    figures = compute_figures(account=AccountTerms(), cash={"HKD": Decimal("-20000")}, positions=[(stock, 1000)], fx={})

    assert figures.equity == Decimal("-10000")
    assert figures.nav_ratio == Decimal("-1")
    assert figures.force_shortfall == Decimal("13000")
    assert figures.call_type == "force_call"


def test_all_positions_delisted_count_as_illiquid_with_full_rates():
    figures = compute_figures(
        account=AccountTerms(), cash={"HKD": Decimal("-100")}, positions=[(STOCK_C_DELISTED, 1000)], fx={}
    )

    assert figures.illiquid_mv == Decimal("500")
    assert figures.liquid_nav == Decimal("-100")
    assert figures.exposure == 0
    assert figures.nav_ratio is None
    assert figures.mm == Decimal("500")
    assert figures.call_type == "force_call"  # FM 500 - equity 400


def test_long_suspended_counts_like_delisted_but_suspended_does_not():
    long_suspended = InstrumentTerms(price=Decimal("10"), status="long_suspended", mm_rate=Decimal(".2"))
    suspended = InstrumentTerms(price=Decimal("10"), status="suspended", mm_rate=Decimal(".2"))

    illiquid = compute_figures(account=AccountTerms(), cash={}, positions=[(long_suspended, 100)], fx={})
    liquid = compute_figures(account=AccountTerms(), cash={}, positions=[(suspended, 100)], fx={})

    assert (illiquid.illiquid_mv, illiquid.mm) == (Decimal("1000"), Decimal("1000"))
    assert (liquid.illiquid_mv, liquid.mm) == (0, Decimal("200"))


def test_short_uses_short_rates_and_long_rates_when_none_set():
    no_short_rates = InstrumentTerms(
        price=Decimal("10"), im_rate=Decimal(".5"), mm_rate=Decimal(".4"), fm_rate=Decimal(".3")
    )
    with_short_rates = STOCK_B

    plain = compute_figures(
        account=AccountTerms(), cash={"HKD": Decimal("5000")}, positions=[(no_short_rates, -100)], fx={}
    )
    short = compute_figures(
        account=AccountTerms(), cash={"HKD": Decimal("5000")}, positions=[(with_short_rates, -10)], fx={}
    )

    assert plain.short_mv == Decimal("-1000")
    assert (plain.im, plain.mm, plain.fm) == (Decimal("500"), Decimal("400"), Decimal("300"))
    assert (short.im, short.mm, short.fm) == (Decimal("400"), Decimal("320"), Decimal("240"))
    assert plain.exposure == Decimal("1000")


def test_option_value_uses_multiplier_and_currency():
    option = InstrumentTerms(
        price=Decimal("1.25"),
        currency="USD",
        multiplier=100,
        im_rate=Decimal("1"),
        mm_rate=Decimal("1"),
        fm_rate=Decimal("1"),
    )
    figures = compute_figures(account=AccountTerms(), cash={"USD": Decimal("100")}, positions=[(option, 3)], fx=FX)

    assert figures.long_mv == Decimal("2925")  # 3 * 1.25 * 100 * 7.8
    assert figures.total_cash == Decimal("780")
    assert figures.mm == Decimal("2925")


def test_several_currencies_add_up_in_hkd():
    figures = compute_figures(
        account=AccountTerms(),
        cash={"HKD": Decimal("100"), "USD": Decimal("10"), "CNY": Decimal("-50")},
        positions=[],
        fx={"USD": Decimal("7.8"), "CNY": Decimal("1.08")},
    )

    assert figures.total_cash == Decimal("124.00")


def test_missing_fx_rate_is_named():
    with pytest.raises(MissingFxRate, match="JPY"):
        compute_figures(account=AccountTerms(), cash={"JPY": Decimal("1")}, positions=[], fx={})


def test_excess_financing_alone_is_its_own_call_type():
    figures = compute_figures(
        account=AccountTerms(credit_limit=Decimal("1000")),
        cash={"HKD": Decimal("-1500")},
        positions=[(InstrumentTerms(price=Decimal("100"), mm_rate=Decimal(".1"), fm_rate=Decimal(".05")), 100)],
        fx={},
    )

    assert figures.margin_shortfall < 0
    assert figures.excess_financing == Decimal("500")
    assert figures.call_type == "excess_financing"
    assert figures.call_amount == Decimal("500")


def test_coefficient_scales_maintenance_margin():
    stock = InstrumentTerms(price=Decimal("100"), mm_rate=Decimal(".5"))
    figures = compute_figures(
        account=AccountTerms(),
        cash={"HKD": Decimal("-6000")},
        positions=[(stock, 100)],
        fx={},
        call_coefficient=Decimal("1.5"),
    )

    # MM 5000 * 1.5 - equity 4000
    assert figures.margin_shortfall == Decimal("3500")
    assert figures.call_type == "margin_call"


def test_rounding_is_half_up_and_never_negative_zero():
    assert round_money(Decimal("0.005")) == Decimal("0.01")
    assert round_money(Decimal("-0.005")) == Decimal("-0.01")
    assert str(round_money(Decimal("-0.001"))) == "0.00"
    assert round_ratio(Decimal("0.10455")) == Decimal("0.1046")
    assert round_ratio(None) is None


money = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2, allow_nan=False, allow_infinity=False
)
rate = st.decimals(min_value=0, max_value=1, places=2)
instruments = st.builds(
    InstrumentTerms,
    price=st.decimals(min_value=0, max_value=Decimal("10000"), places=3),
    currency=st.sampled_from(["HKD", "USD"]),
    multiplier=st.sampled_from([1, 100]),
    status=st.sampled_from(["normal", "suspended", "long_suspended", "delisted"]),
    im_rate=rate,
    mm_rate=rate,
    fm_rate=rate,
    short_mm_rate=st.none() | rate,
)
positions = st.lists(st.tuples(instruments, st.integers(min_value=-100000, max_value=100000)), max_size=6)
accounts = st.builds(
    AccountTerms,
    credit_limit=money.map(abs),
    accrued_interest=money.map(abs),
    debt_margin=money.map(abs),
    trading_limit=money.map(abs),
)
coefficients = st.decimals(min_value=0, max_value=3, places=2)


@given(account=accounts, hkd=money, usd=money, holdings=positions, coefficient=coefficients)
def test_call_amount_is_never_negative(account, hkd, usd, holdings, coefficient):
    figures = compute_figures(
        account=account, cash={"HKD": hkd, "USD": usd}, positions=holdings, fx=FX, call_coefficient=coefficient
    )

    assert figures.call_amount >= 0


@given(
    account=accounts,
    hkd=money,
    deposit=money.map(abs),
    holdings=positions,
    coefficient=coefficients,
)
def test_more_cash_never_raises_the_call_amount(account, hkd, deposit, holdings, coefficient):
    before = compute_figures(
        account=account, cash={"HKD": hkd}, positions=holdings, fx=FX, call_coefficient=coefficient
    )
    after = compute_figures(
        account=account, cash={"HKD": hkd + deposit}, positions=holdings, fx=FX, call_coefficient=coefficient
    )

    assert after.call_amount <= before.call_amount


@given(account=accounts, hkd=money, holdings=positions)
def test_ratio_when_defined_is_at_most_one(account, hkd, holdings):
    figures = compute_figures(account=account, cash={"HKD": hkd}, positions=holdings, fx=FX)

    if figures.nav_ratio is not None:
        assert figures.nav_ratio <= 1


@pytest.mark.parametrize(
    ("value", "money", "percent"),
    [
        (Decimal("0.005"), "0.01", "0.50%"),
        (Decimal("2.345"), "2.35", "234.50%"),
        (Decimal("-2.345"), "-2.35", "-234.50%"),
        (Decimal("1234567.125"), "1,234,567.13", "123,456,712.50%"),
        (Decimal("0.000049"), "0.00", "0.00%"),
        (Decimal("0.10455"), "0.10", "10.46%"),
        (None, "—", "—"),
    ],
)
def test_figures_are_written_half_up_as_the_engine_rounds(value, money, percent):
    from risk import formatting
    from risk.templatetags import figures

    assert formatting.money(value) == figures.money(value) == money
    assert formatting.percent(value) == figures.percent(value) == percent
    if value is not None:
        assert formatting.money(value, grouping=False) == money.replace(",", "")
        assert formatting.money(value) == f"{round_money(value):,.2f}"


def test_an_average_price_is_weighted_by_quantity_and_rounded_half_up_to_a_price_s_places():
    from decimal import Decimal as D

    from book.models import PRICE_PLACES
    from risk.calculations import PRICE_UNIT, average_price

    assert D(1).scaleb(-PRICE_PLACES) == PRICE_UNIT  # the places the book stores a price in
    assert average_price([]) is None
    assert average_price([(100, D("372.40")), (200, D("372.60"))]) == D("372.533333")
    assert average_price([(2, D("0.0000005"))]) == D("0.000001")  # a half: up
