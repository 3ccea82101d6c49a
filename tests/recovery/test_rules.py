"""The recovery rules at their edges (recovery/rules.py), and export_recovery over a stored book."""

import io
import json

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.rules import CANNOT_SHORT, LENDING_POOL, NOT_SHORTABLE, Holding, Instrument, covered_calls, scan

STOCK = Instrument("700.HK", lot_size=100)
CALL = Instrument("TCH-C400", kind="option", multiplier=100, underlying="700.HK", option_type="call")
CALL2 = Instrument("TCH-C420", kind="option", multiplier=100, underlying="700.HK", option_type="call")
PUT = Instrument("TCH-P300", kind="option", multiplier=100, underlying="700.HK", option_type="put")
INSTRUMENTS = {i.symbol: i for i in (STOCK, CALL, CALL2, PUT)}


def h(account, symbol, quantity, kind="margin"):
    return Holding(account, kind, symbol, quantity)


@pytest.mark.parametrize(
    ("stock", "listed"),
    [(500, False), (499, True), (-100, True), (0, True), (600, False)],
    ids=["exactly covered", "one share short", "short the stock", "none held", "more than covered"],
)
def test_a_short_call_needs_its_stock(stock, listed):
    holdings = [h("A", "TCH-C400", -3), h("A", "TCH-C420", -2), h("A", "TCH-P300", -9)]  # 500 shares; puts don't count
    if stock:
        holdings.append(h("A", "700.HK", stock))

    found = covered_calls(holdings, INSTRUMENTS)

    if not listed:
        assert found == []
        return
    [item] = found
    assert (item.account_no, item.underlying, item.required) == ("A", "700.HK", 500)
    assert item.held == max(0, stock)
    assert item.shortfall == 500 - max(0, stock)
    assert item.options == (("TCH-C400", 3), ("TCH-C420", 2))


def test_a_long_call_needs_nothing_and_accounts_are_apart():
    holdings = [h("A", "TCH-C400", 3), h("B", "TCH-C400", -1), h("A", "700.HK", 100)]
    [item] = covered_calls(holdings, INSTRUMENTS)
    assert (item.account_no, item.held, item.shortfall) == ("B", 0, 100)


def test_a_short_call_past_its_expiry_day_needs_no_cover():
    from dataclasses import replace

    instruments = {**INSTRUMENTS, "TCH-C420": replace(CALL2, expired=True)}
    [item] = covered_calls([h("A", "TCH-C400", -3), h("A", "TCH-C420", -2)], instruments)
    assert (item.required, item.options) == (300, (("TCH-C400", 3),))


def test_a_cash_account_or_a_stock_that_may_not_be_shorted_buys_back_all_of_it():
    instruments = {**INSTRUMENTS, "X.HK": Instrument("X.HK", lot_size=100, shortable=False)}
    result = scan([h("C", "700.HK", -150, kind="cash"), h("M", "X.HK", -30), h("M", "700.HK", -200)], instruments, {})

    assert [(s.account_no, s.symbol, s.short_quantity, s.quantity, s.reason) for s in result.short_stock] == [
        ("C", "700.HK", 150, 150, CANNOT_SHORT),
        ("M", "X.HK", 30, 30, NOT_SHORTABLE),
    ]  # M's 700.HK short is allowed: no lending row, nothing to recall


def test_a_recall_is_shared_pro_rata_in_whole_lots_and_never_more_than_the_short():
    # Lent 1,000 + 600 + 150 (odd lot) = 1,750 against 1,000 lendable: recall 750.
    holdings = [h("A", "700.HK", -1000), h("B", "700.HK", -600), h("D", "700.HK", -150)]
    result = scan(holdings, INSTRUMENTS, {"700.HK": 1000})

    [pool] = result.lending
    assert (pool.lendable, pool.lent, pool.clients, pool.recall) == (1000, 1750, 3, 750)
    shares = {s.account_no: (s.short_quantity, s.quantity, s.reason) for s in result.short_stock}
    # 750 x 1000/1750 = 428.6 -> 500; 750 x 600/1750 = 257.1 -> 300; 750 x 150/1750 = 64.3 -> 100
    assert shares == {"A": (1000, 500, LENDING_POOL), "B": (600, 300, LENDING_POOL), "D": (150, 100, LENDING_POOL)}
    assert sum(quantity for _short, quantity, _reason in shares.values()) >= pool.recall


def test_a_share_rounded_up_past_an_odd_lot_short_is_the_whole_short():
    holdings = [h("A", "700.HK", -50), h("B", "700.HK", -50)]
    result = scan(holdings, INSTRUMENTS, {"700.HK": 90})  # recall 10: 5 each, up to a lot, at most the short

    assert [(s.account_no, s.quantity) for s in result.short_stock] == [("A", 50), ("B", 50)]


def test_shorts_bought_back_for_another_reason_count_toward_the_recall_first():
    holdings = [h("C", "700.HK", -300, kind="cash"), h("A", "700.HK", -500), h("B", "700.HK", -500)]
    exactly = scan(holdings, INSTRUMENTS, {"700.HK": 1000})  # recall 300, met by the cash account's 300
    more = scan(holdings, INSTRUMENTS, {"700.HK": 900})  # recall 400: 100 more, shared by A and B

    assert [(s.account_no, s.quantity, s.reason) for s in exactly.short_stock] == [("C", 300, CANNOT_SHORT)]
    assert [(s.account_no, s.quantity, s.reason) for s in more.short_stock] == [
        ("A", 100, LENDING_POOL),
        ("B", 100, LENDING_POOL),
        ("C", 300, CANNOT_SHORT),
    ]


def test_a_pool_with_room_recalls_nothing():
    result = scan([h("A", "700.HK", -500)], INSTRUMENTS, {"700.HK": 500})
    assert result.short_stock == []
    assert result.lending[0].recall == 0
    assert result.lending[0].utilisation == 1


@pytest.mark.django_db
def test_export_recovery_prints_the_rules_on_the_stored_book(recovery_book):
    out = io.StringIO()
    call_command("export_recovery", stdout=out)

    assert json.loads(out.getvalue()) == {
        "covered_calls": [
            {
                "account_no": "A1",
                "underlying": "700.HK",
                "options": [{"symbol": "TCH-C400", "contracts": 3}],
                "required_shares": 300,
                "held_shares": 100,
                "shortfall_shares": 200,
            }
        ],
        "short_stock": [
            {"account_no": "C1", "symbol": "700.HK", "short_quantity": 200, "quantity": 200, "reason": CANNOT_SHORT},
            {"account_no": "M1", "symbol": "700.HK", "short_quantity": 400, "quantity": 100, "reason": LENDING_POOL},
            {"account_no": "M1", "symbol": "X.HK", "short_quantity": 300, "quantity": 300, "reason": NOT_SHORTABLE},
        ],
        "lending": [{"symbol": "700.HK", "lendable": 300, "lent": 600, "clients": 2, "recall": 300}],
    }


@pytest.mark.django_db
def test_the_pages_narrow_reads_agree_with_the_whole_scan(recovery_book):
    from recovery import services

    whole = services.book_scan()
    assert services.covered_calls_now() == whole.covered_calls
    assert services.lending_now() == whole.lending


@st.composite
def pools(draw):
    lot = draw(st.sampled_from([1, 100, 500]))
    instruments = {"S": Instrument("S", lot_size=lot, shortable=draw(st.booleans()) or draw(st.booleans()))}
    shorts = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=6))
    kinds = draw(st.lists(st.sampled_from(["margin", "margin", "cash"]), min_size=len(shorts), max_size=len(shorts)))
    holdings = [h(f"A{n}", "S", -short, kind=kind) for n, (short, kind) in enumerate(zip(shorts, kinds, strict=True))]
    lendable = draw(st.integers(0, sum(shorts) + 100))
    return holdings, instruments, lendable


@settings(max_examples=300, deadline=None)
@given(pools())
def test_a_recall_is_always_met_in_whole_lots_without_buying_more_than_a_short(case):
    holdings, instruments, lendable = case
    result = scan(holdings, instruments, {"S": lendable})
    lot = instruments["S"].lot_size
    shorts = {holding.account_no: -holding.quantity for holding in holdings}

    [pool] = result.lending
    assert pool.lent == sum(shorts.values())
    assert pool.recall == max(0, pool.lent - lendable)
    assert sum(item.quantity for item in result.short_stock) >= pool.recall  # the recall is met
    for item in result.short_stock:
        assert 0 < item.quantity <= item.short_quantity == shorts[item.account_no]
        if item.reason == LENDING_POOL:
            assert item.quantity % lot == 0 or item.quantity == item.short_quantity
        else:
            assert item.quantity == item.short_quantity  # all of it
    if pool.recall == 0:
        assert all(item.reason != LENDING_POOL for item in result.short_stock)
