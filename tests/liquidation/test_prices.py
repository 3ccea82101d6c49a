"""HKEX order prices (liquidation/prices.py)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidation.prices import default_limit, nearest_valid, on_grid, tick_at

D = Decimal


@pytest.mark.parametrize(
    ("price", "tick"),
    [("0.2", "0.001"), ("0.3", "0.005"), ("5", "0.01"), ("15", "0.02"), ("50", "0.05"), ("150", "0.10"),
     ("300", "0.20"), ("700", "0.50"), ("1500", "1"), ("3000", "2"), ("6000", "5")],
)  # fmt: skip
def test_the_spread_table(price, tick):
    assert tick_at(D(price)) == D(tick)


@pytest.mark.parametrize(
    ("price", "valid", "below", "above"),
    [("380", True, "380", "380"), ("380.1", False, "380.00", "380.20"), ("9.999", False, "9.99", "10.00"),
     ("10.01", False, "10.00", "10.02"), ("0.503", False, "0.500", "0.51"), ("5003", False, "5000", "5005"),
     ("0.005", False, "0.01", "0.01")],
)  # fmt: skip
def test_a_price_off_the_grid_names_the_two_nearest(price, valid, below, above):
    assert on_grid(D(price)) is valid
    assert nearest_valid(D(price)) == (D(below), D(above))


def test_the_default_price_moves_by_the_band_away_from_the_last():
    assert default_limit(D("380"), side="sell", band=D("0.02")) == D("372.40")
    assert default_limit(D("380"), side="buy", band=D("0.02")) == D("387.60")
    assert default_limit(D("0.252"), side="sell", band=D("0.02")) == D("0.246")


@given(st.decimals(min_value=D("0.01"), max_value=D("9995"), places=3))
def test_nearest_valid_prices_are_valid_and_around_the_price(price):
    below, above = nearest_valid(price)
    assert on_grid(below)
    assert on_grid(above)
    assert below <= price <= above


def test_no_price_above_9995_is_on_the_grid_and_a_buy_is_bid_at_most_that():
    assert on_grid(D("9995"))
    assert not on_grid(D("10000"))
    assert nearest_valid(D("12345")) == (D("9995"), D("9995"))
    assert default_limit(D("9900"), side="buy", band=D("0.02")) == D("9995")


def test_a_stock_quoted_elsewhere_moves_by_the_band_in_its_own_places():
    assert default_limit(D("100"), side="sell", band=D("0.02"), hkex=False) == D("98.00")
    assert default_limit(D("6.1"), side="buy", band=D("0.02"), hkex=False) == D("6.23")
    assert default_limit(D("0.1234"), side="sell", band=D("0.02"), hkex=False) == D("0.1209")
    assert default_limit(D("12000"), side="buy", band=D("0.02"), hkex=False) == D("12240.00")
