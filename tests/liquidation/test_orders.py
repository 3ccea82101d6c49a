"""Liquidation orders (liquidation/services.py): the plan placed and filled by the simulated exchange,
reservation, idempotency, cancel, and the races that must not oversell or fill a cancelled order."""

import json
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import close_old_connections
from django.utils import timezone

from book.models import Account, CashBalance, FxRate, Instrument, Position
from console.models import AuditEntry
from liquidation import services
from liquidation.models import Order, OrderStatus
from risk.models import MarginCall

D = Decimal
HKT = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture
def account(book):
    return Account.objects.get(account_no="M100001")


def held(account, symbol):
    position = Position.objects.filter(account=account, instrument__symbol=symbol).first()
    return position.quantity if position else 0


def test_the_plan_is_placed_filled_and_closes_the_call_by_liquidation(
    account, trader, django_capture_on_commit_callbacks, exchange
):
    call = MarginCall.objects.get(account=account, closed_at__isnull=True)

    with django_capture_on_commit_callbacks(execute=True):
        orders = services.place_plan(user=trader, account=account)
    assert {o.status for o in Order.objects.all()} == {OrderStatus.SUBMITTED}
    while exchange():  # turn after turn until nothing is left to fill
        pass

    assert [(o.instrument.symbol, o.side, o.quantity) for o in orders][:2] == [
        ("B.HK", "buy", 1000),
        ("A.HK", "sell", 1100),
    ]
    assert {o.status for o in Order.objects.all()} == {OrderStatus.FILLED}
    assert (held(account, "A.HK"), held(account, "B.HK")) == (900, 0)
    call.refresh_from_db()
    assert (call.status, call.close_cause) == ("closed", "liquidation")
    entry = AuditEntry.objects.get(action="liquidate")
    assert entry.targets == [{"call": call.pk}]
    assert [o["symbol"] for o in entry.detail["orders"]][:2] == ["B.HK", "A.HK"]


def test_a_fill_moves_cash_in_the_instruments_currency_less_costs(account, trader, exchange, place):
    before = CashBalance.objects.get(account=account, currency="HKD").amount
    place(trader, account, services.Wanted("A.HK", 100, D("372.40")))
    exchange()

    fill = Order.objects.get().fills.get()
    value = fill.price * 100
    after = CashBalance.objects.get(account=account, currency="HKD").amount
    assert after - before == value - (value * D("0.002")).quantize(D("0.01"))


def test_an_order_whose_fill_no_cash_balance_could_hold_is_refused(account, trader, place):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=10**17)

    with pytest.raises(services.Refused, match="more than a cash balance can hold"):
        place(trader, account, services.Wanted("A.HK", 10**17, D("372.40")))

    assert not Order.objects.exists()


def test_a_fill_that_cannot_be_booked_rejects_its_order_and_the_others_still_trade(account, trader, exchange, place):
    place(trader, account, services.Wanted("A.HK", 100, D("372.40")))
    place(trader, account, services.Wanted("B.HK", 500))
    big, other = Order.objects.order_by("pk")
    # the balance is already at the edge of what it can hold (a book may hold that much)
    CashBalance.objects.filter(account=account, currency="HKD").update(amount=D(10**19) - 1)
    before = held(account, "A.HK")

    exchange()

    big.refresh_from_db()
    other.refresh_from_db()
    assert big.status == OrderStatus.REJECTED
    assert "more than a cash balance can hold" in big.reject_reason
    assert held(account, "A.HK") == before  # nothing of it booked
    assert other.status == OrderStatus.FILLED


def test_the_same_key_makes_one_set_of_orders(account, trader):
    first = services.place_plan(user=trader, account=account, key="form-1")
    again = services.place_plan(user=trader, account=account, key="form-1")

    assert sorted(o.pk for o in again) == sorted(o.pk for o in first)
    assert Order.objects.count() == len(first)


def test_another_user_s_key_places_nothing_and_is_not_answered_with_their_orders(account, trader):
    from tests.users import make_user

    first = services.place_plan(user=trader, account=account, key="form-1")
    other = make_user("other-trader", "RiskWarningFull")

    with pytest.raises(services.Refused, match="already used by another user"):
        services.place_plan(user=other, account=account, key="form-1")
    with pytest.raises(services.Refused, match="already used by another user"):  # as a call's form
        services.place(user=other, account=account, wanted=[services.Wanted("A.HK", 100)], key="form-1")
    assert Order.objects.count() == len(first)


def test_a_key_sent_again_for_another_account_places_that_accounts_orders(import_book, account, trader):
    from tests.books import one_stock_book

    import_book(one_stock_book(desk="HK1", account_no="T4"))  # one stock: S.HK
    other = Account.objects.get(account_no="T4")
    first = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)], key="form-1")

    second = services.place(user=trader, account=other, wanted=[services.Wanted("S.HK", 100)], key="form-1")

    assert [(o.account.account_no, o.instrument.symbol) for o in second] == [("T4", "S.HK")]
    assert Order.objects.count() == 2
    again = services.place(user=trader, account=other, wanted=[services.Wanted("S.HK", 100)], key="form-1")
    assert [o.pk for o in again] == [o.pk for o in second] != [o.pk for o in first]


@pytest.mark.parametrize(
    ("price", "why"),
    [
        ("0.0000001", "B.HK: a limit price has at most 6 decimal places; 0.0000001 has more."),
        ("12.3456789", "B.HK: a limit price has at most 6 decimal places; 12.3456789 has more."),
        ("1E-9999999999999", "B.HK: a limit price has at most 6 decimal places; 1E-9999999999999 has more."),
        ("100000000", "B.HK: the limit price must be below 100,000,000."),
        ("-0", "B.HK: the limit price must be above 0."),
    ],
)
def test_a_limit_price_off_the_grid_market_must_fit_its_column(account, trader, price, why):
    FxRate.objects.update_or_create(currency="USD", defaults={"rate": D("7.8")})
    Instrument.objects.filter(symbol="B.HK").update(currency="USD")

    with pytest.raises(services.Refused) as refused:
        services.place(user=trader, account=account, wanted=[services.Wanted("B.HK", 500, D(price))])

    assert str(refused.value) == why
    assert not Order.objects.exists()
    placed = services.place(user=trader, account=account, wanted=[services.Wanted("B.HK", 500, D("80.345678"))])
    assert placed[0].limit_price == D("80.345678")


def test_a_limit_price_far_from_the_last_price_is_refused_naming_the_range(account, trader):
    from risk.models import RuleSet

    Instrument.objects.filter(symbol="A.HK").update(price_time=timezone.now())  # a price just in
    for mistyped in ("3.80", "9995", "0.01"):
        with pytest.raises(services.Refused) as refused:
            services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D(mistyped))])
        assert str(refused.value) == (
            f"A.HK: {mistyped} is more than 10% from the last price 380; give a limit from 342 to 418."
        )
    assert not Order.objects.exists()
    [placed] = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D("342"))])
    assert placed.limit_price == D("342")
    RuleSet.objects.filter(account_kind="margin").update(price_deviation_limit=D("0.5"))  # the risk admins' rule
    services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D("200"))])


@pytest.mark.parametrize(("last", "band"), [("10.01", "0.02"), ("0.011", "0.02"), ("380", "0.05")])
def test_the_default_limit_is_never_refused_as_too_far_whatever_the_rule_sets_limit(account, trader, last, band):
    from liquidation import prices
    from risk.models import RuleSet

    RuleSet.objects.filter(account_kind="margin").update(price_band=D(band), price_deviation_limit=D(band))
    Instrument.objects.filter(symbol="A.HK").update(price=D(last))
    default = prices.default_limit(D(last), side="sell", band=D(band))  # what the page fills in

    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, default)])

    assert order.limit_price == default


@pytest.mark.parametrize("old_key", ["form-1:A.HK", "form-1:M100001:A.HK"])
def test_an_order_keyed_the_way_it_was_before_still_answers_its_key(account, trader, old_key):
    [first] = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)], key="form-1")
    Order.objects.filter(pk=first.pk).update(idempotency_key=old_key)

    again = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)], key="form-1")

    assert [order.pk for order in again] == [first.pk]
    assert Order.objects.count() == 1


def test_working_quantities_are_reserved(account, trader):
    services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 1500)])

    with pytest.raises(services.Refused, match="more than the free quantity 500"):
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 600)])
    services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 500)])
    assert Order.objects.count() == 2


@pytest.mark.parametrize(
    ("wanted", "why"),
    [
        (services.Wanted("A.HK", 150), "not a whole number of lots of 100"),
        (services.Wanted("C.HK", 100), "is delisted and cannot be traded"),
        (services.Wanted("A.HK", 100, D("380.1")), "nearest valid prices are 380.00 and 380.20"),
        (services.Wanted("A.HK", 100, order_type="market"), "no market orders"),
        (services.Wanted("ZZZ.HK", 100), "holds none"),
        (services.Wanted("A.HK", 0), "whole number above 0"),
    ],
)
def test_orders_that_break_a_rule_are_refused_and_nothing_is_written(account, trader, wanted, why):
    with pytest.raises(services.Refused, match=why):
        services.place(user=trader, account=account, wanted=[services.Wanted("B.HK", 500), wanted])
    assert not Order.objects.exists()


def test_a_stock_with_no_last_price_needs_a_limit_price_given(account, trader):
    Instrument.objects.filter(symbol="A.HK").update(price=0)

    with pytest.raises(services.Refused, match=r"A\.HK: there is no last price to set a limit from"):
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)])
    assert not Order.objects.exists()
    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D("300"))])
    assert order.limit_price == 300
    # The plan leaves it out rather than refuse everything else it would place.
    Order.objects.all().delete()
    [request] = services.liquidate_calls(user=trader, accounts=[account])
    assert request.refused is None
    assert "A.HK" not in {order.instrument.symbol for order in request.orders or []}


def test_a_batch_says_a_debit_call_has_no_position_not_that_its_stock_is_suspended(trader, import_book):
    import_book({"accounts": [{"account_no": "D1", "desk": "HK1", "cash": {"HKD": "-1000"}}]})
    debit = Account.objects.get(account_no="D1")
    assert MarginCall.objects.get(account=debit).call_type == "debit"

    [request] = services.liquidate_calls(user=trader, accounts=[debit])

    assert str(request.refused) == "A debit call has no position to sell or buy back: only a deposit meets it."
    assert not Order.objects.exists()


def test_the_viewer_and_another_desk_may_not_liquidate(account, viewer, desk_trader):
    with pytest.raises(services.Refused, match="may not liquidate"):
        services.place_plan(user=viewer, account=account)
    with pytest.raises(services.Refused, match="No such account"):
        services.place_plan(user=desk_trader, account=account)
    assert not Order.objects.exists()


@pytest.fixture
def place(django_capture_on_commit_callbacks):
    """Place one order and submit it (the gateway takes orders once their transaction commits)."""

    def run(trader, account, wanted):
        with django_capture_on_commit_callbacks(execute=True):
            return services.place(user=trader, account=account, wanted=[wanted])[0]

    return run


def test_a_cancel_before_the_fill_wins_and_releases_the_rest(account, trader, exchange, place):
    order = place(trader, account, services.Wanted("A.HK", 2000))

    [(cancelled, outcome)] = services.cancel(user=trader, orders=[order])
    assert exchange() == 0  # the exchange's turn comes after the cancel

    assert (outcome, cancelled.status) == ("ok", OrderStatus.CANCELLED)
    assert not cancelled.fills.exists()
    assert held(account, "A.HK") == 2000
    services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 2000)])  # free again


def test_the_viewer_may_not_cancel(account, trader, viewer):
    order = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)])[0]
    with pytest.raises(services.Refused, match="may not cancel"):
        services.cancel(user=viewer, orders=[order])


def test_a_trader_of_another_desk_cannot_cancel_through_the_service(account, trader, desk_trader):
    assert account.desk.code != "HK2"
    order = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)])[0]

    [(order, outcome)] = services.cancel(user=desk_trader, orders=[order])

    assert outcome == "no such order"
    assert Order.objects.get(pk=order.pk).cancel_requested_at is None
    assert AuditEntry.objects.get(action="cancel_order").outcome == "partly refused"


def test_large_orders_fill_in_parts_one_a_turn(account, trader, exchange, place):
    order = place(trader, account, services.Wanted("A.HK", 2000))

    exchange()
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, 1000)
    turns = 1
    while order.is_working and turns < 20:
        exchange()
        order.refresh_from_db()
        turns += 1

    assert order.status == OrderStatus.FILLED
    assert order.fills.count() == turns > 1
    assert sum(f.quantity for f in order.fills.all()) == 2000


def test_an_order_waits_its_delay_and_for_a_price_within_its_limit(account, trader, exchange, settings, clock, place):
    settings.SIMULATED_FILL_DELAY_SECONDS = 2
    order = place(trader, account, services.Wanted("A.HK", 100, limit_price=D("400")))  # above the market (380)

    assert exchange() == 0  # not yet: the delay
    clock.shift(3)
    assert exchange() == 0  # the price is below the limit: it waits
    order.instrument.price = D("400")
    order.instrument.save(update_fields=["price"])
    assert exchange() == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED
    assert order.fills.get().price == D("400")


def test_outside_xhkg_sessions_nothing_trades(account, trader, exchange, settings, clock, place):
    settings.SIMULATED_EXCHANGE_ALWAYS_OPEN = False
    order = place(trader, account, services.Wanted("A.HK", 100))
    clock.move_to(datetime(2026, 12, 26, 11, 0, tzinfo=HKT))  # Boxing Day: no session

    assert exchange() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


def test_another_gateway_leaves_the_simulated_exchange_nothing_to_do(account, trader, exchange, settings, place):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    order = place(trader, account, services.Wanted("A.HK", 100))

    assert exchange() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


def test_orders_the_gateway_could_not_take_stay_pending_and_are_sent_again(account, trader, settings, place, caplog):
    import time_machine

    from liquidation import tasks

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Away"
    order = place(trader, account, services.Wanted("A.HK", 100))  # placed: the trader's page is not a 500

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert any(
        record.name == "margincall.alerts" and f"orders [{order.pk}] were not sent to the market" in record.getMessage()
        for record in caplog.records
    )
    assert tasks.resubmit_orders() == 0  # not before ORDER_RESUBMIT_SECONDS: its own sending may be under way
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert tasks.resubmit_orders() == 1  # still away: still pending
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING
        assert tasks.resubmit_orders() == 0  # just sent: not again before ORDER_RESUBMIT_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=62)):
        settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # back
        assert tasks.resubmit_orders() == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.SUBMITTED
        assert tasks.resubmit_orders() == 0


def test_an_unsent_order_is_never_sent_against_a_cancel_nor_late(account, trader, settings, place):
    import time_machine

    from liquidation import tasks

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Away"
    cancelled = place(trader, account, services.Wanted("A.HK", 100))
    late = place(trader, account, services.Wanted("B.HK", 500))
    # The trader cancels the first; a broker's gateway only sends the cancel (the market never had it).
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Confirming"
    services.cancel(user=trader, orders=[cancelled])
    cancelled.refresh_from_db()
    assert cancelled.status == OrderStatus.PENDING

    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Away"  # still away
        assert tasks.resubmit_orders() == 2
    cancelled.refresh_from_db()
    assert cancelled.status == OrderStatus.CANCELLED  # cancelled here, never sent
    late.refresh_from_db()
    assert late.status == OrderStatus.PENDING

    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # back, ten minutes on
        assert tasks.resubmit_orders() == 1
    late.refresh_from_db()
    assert late.status == OrderStatus.REJECTED  # not sent late: its quantity is free again
    assert late.reject_reason.startswith("not sent: the order gateway did not take it within 600 s")


def test_one_order_the_gateway_keeps_refusing_holds_up_no_other(account, trader, settings, place, monkeypatch):
    import time_machine

    from liquidation import gateway, tasks

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Away"
    stuck = place(trader, account, services.Wanted("A.HK", 100))
    other = place(trader, account, services.Wanted("B.HK", 500))
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    holding = gateway.get()
    taken = holding.submit

    def refuses_one(order_ids):
        if stuck.pk in order_ids:
            raise ValueError("order system refuses this order")
        taken(order_ids)

    monkeypatch.setattr(holding, "submit", refuses_one)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert tasks.resubmit_orders() == 2
    stuck.refresh_from_db()
    other.refresh_from_db()
    assert (stuck.status, other.status) == (OrderStatus.PENDING, OrderStatus.SUBMITTED)


def test_an_order_asked_for_one_side_is_not_placed_on_the_other(account, trader):
    """A buy-back read the position short; a book imported before its lock made it long: the buy is
    refused, never turned into a sale."""
    from liquidation.models import Side

    with pytest.raises(services.Refused) as refused:
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, side=Side.BUY)])

    assert str(refused.value) == "A.HK: the account now holds it long; nothing was placed."
    assert not Order.objects.exists()
    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, side=Side.SELL)])
    assert order.side == Side.SELL


def test_the_exchange_rejects_an_order_on_a_suspended_instrument(account, trader, exchange, place):
    order = place(trader, account, services.Wanted("A.HK", 100))
    order.instrument.status = "suspended"
    order.instrument.save()

    exchange()

    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED
    assert "suspended" in order.reject_reason


def test_an_option_past_its_expiry_day_is_neither_planned_nor_placed(book, trader):
    account = Account.objects.get(account_no="M100002")  # short 5 TCH270330C400, long 500 700.HK
    option = Instrument.objects.get(symbol="TCH270330C400")
    option.expiry = datetime(2026, 12, 22).date()  # the day before this test's day
    option.save()

    plan, book_now = services.account_plan(account)
    with pytest.raises(services.Refused, match="the option expired on 2026-12-22"):
        services.place(user=trader, account=account, wanted=[services.Wanted("TCH270330C400", 1, D("13"))])

    assert not [line for line in book_now.lines if line.symbol == "TCH270330C400" and line.tradable]
    assert "TCH270330C400" not in {order.symbol for order in plan.orders}
    option.expiry = datetime(2026, 12, 23).date()  # its expiry day: it still trades
    option.save()
    services.place(user=trader, account=account, wanted=[services.Wanted("TCH270330C400", 1, D("13"))])


def test_an_hkd_options_premium_is_not_held_to_the_stock_spread_table(book, trader):
    account = Account.objects.get(account_no="M100002")  # short 5 TCH270330C400, long 500 700.HK
    Instrument.objects.filter(symbol="TCH270330C400").update(price=D("12.50"))

    # 12.75 is off the stock table's grid (0.02 between 10 and 20), but a premium moves by 0.01.
    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("TCH270330C400", 1, D("12.75"))])
    assert order.limit_price == D("12.75")
    Order.objects.update(status=OrderStatus.CANCELLED)
    # Its default limit is the band off the last premium, in cents (a buy: up).
    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("TCH270330C400", 1)])
    assert order.limit_price == D("12.75")  # 12.50 + 2%
    # A stock stays on the table.
    with pytest.raises(services.Refused, match="not on the HKEX price grid"):
        services.place(user=trader, account=account, wanted=[services.Wanted("700.HK", 100, D("380.10"))])


def test_a_book_that_holds_less_than_the_working_orders_is_warned_of_and_the_exchange_fills_no_more(
    account, trader, exchange, place, import_book
):
    order = place(trader, account, services.Wanted("A.HK", 1000, D("372.40")))
    gone = place(trader, account, services.Wanted("B.HK", 1000, D("81.60")))

    result = import_book(
        {
            "as_of": "2026-12-23T11:00:00+08:00",
            "accounts": [{"account_no": "M100001", "positions": [{"symbol": "A.HK", "quantity": 200}]}],
        }
    )
    exchange()

    assert result.warnings == [
        "account M100001: working orders sell 1000 A.HK, more than the 200 it now holds long;"
        " review them on Liquidation Orders",
        "account M100001: working orders buy back 1000 B.HK, more than the 0 it now holds short;"
        " review them on Liquidation Orders",
    ]
    order.refresh_from_db()
    gone.refresh_from_db()
    assert (order.status, order.reject_reason) == (
        OrderStatus.REJECTED,
        "the account holds 200 A.HK long, less than the 1000 the order still trades",
    )
    assert gone.status == OrderStatus.REJECTED
    assert (held(account, "A.HK"), held(account, "B.HK")) == (200, 0)


def test_two_orders_that_together_trade_more_than_a_new_book_holds_do_not_both_fill(
    account, trader, exchange, place, import_book
):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=2000)
    first = place(trader, account, services.Wanted("A.HK", 1000, D("372.40")))
    second = place(trader, account, services.Wanted("A.HK", 1000, D("372.40")))
    import_book(
        {
            "as_of": "2026-12-23T11:00:00+08:00",
            "accounts": [{"account_no": "M100001", "positions": [{"symbol": "A.HK", "quantity": 1000}]}],
        }
    )  # each order alone fits what it holds now; both together do not

    exchange()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.FILLED, OrderStatus.REJECTED)
    assert second.reject_reason == "the account holds 0 A.HK long, less than the 1000 the order still trades"
    assert held(account, "A.HK") == 0  # sold out, never turned short


def test_a_book_that_grows_a_position_under_an_odd_lot_is_warned_of(account, trader, import_book):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=1550)
    services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 1550, D("372.40"))])

    result = import_book(
        {
            "as_of": "2026-12-23T11:00:00+08:00",
            "accounts": [
                {
                    "account_no": "M100001",
                    "positions": [{"symbol": "A.HK", "quantity": 1650}, {"symbol": "B.HK", "quantity": -1000}],
                }
            ],
        }
    )

    assert result.warnings == [
        "account M100001: working orders sell 1550 A.HK with an odd lot, which no longer closes the 1650 it"
        " now holds long; the exchange will take no more of the odd lot"
    ]


def test_a_fill_of_a_position_a_book_has_since_removed_is_still_booked(account, trader, place, import_book):
    order = place(trader, account, services.Wanted("B.HK", 1000, D("81.60")))
    import_book({"as_of": "2026-12-23T11:00:00+08:00", "accounts": [{"account_no": "M100001", "positions": []}]})

    services.record_fill(order.pk, 1000, D("80"), order.created_at, "gw-1")  # the gateway says it filled

    assert held(account, "B.HK") == 1000  # bought back 1000 of a short the book no longer holds
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED


def test_board_lots_and_the_odd_lot_that_closes_go_as_two_orders(
    account, trader, exchange, django_capture_on_commit_callbacks
):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=1550)

    with django_capture_on_commit_callbacks(execute=True):
        orders = services.place(
            user=trader, account=account, wanted=[services.Wanted("A.HK", 1550, D("372.40"))], key="odd-lots-key-01"
        )
    again = services.place(
        user=trader, account=account, wanted=[services.Wanted("A.HK", 1550, D("372.40"))], key="odd-lots-key-01"
    )
    while exchange():
        pass

    assert [(o.quantity, o.limit_price) for o in orders] == [(1500, D("372.40")), (50, D("372.40"))]
    assert again.again
    assert sorted(o.pk for o in again) == sorted(o.pk for o in orders)
    assert {o.status for o in Order.objects.all()} == {OrderStatus.FILLED}
    assert held(account, "A.HK") == 0


def test_an_odd_lot_that_closes_once_its_board_lots_are_rejected_still_trades(
    account, trader, exchange, django_capture_on_commit_callbacks
):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=1550)
    with django_capture_on_commit_callbacks(execute=True):
        board, odd = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 1550, D("372.40"))])
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=50)  # a book since

    exchange()

    board.refresh_from_db()
    odd.refresh_from_db()
    assert (board.status, odd.status) == (OrderStatus.REJECTED, OrderStatus.FILLED)
    assert held(account, "A.HK") == 0


def test_the_exchange_takes_no_more_of_an_option_past_its_expiry_day(book, trader, exchange, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    account = Account.objects.get(account_no="M100002")
    [order] = services.place(user=trader, account=account, wanted=[services.Wanted("TCH270330C400", 1, D("13"))])
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTED)
    Instrument.objects.filter(symbol="TCH270330C400").update(expiry=datetime(2026, 12, 22).date())
    settings.LIQUIDATION_GATEWAY = "liquidation.gateway.SimulatedExchange"

    exchange()

    order.refresh_from_db()
    assert (order.status, order.reject_reason) == (
        OrderStatus.REJECTED,
        "TCH270330C400 expired on 2026-12-22: the exchange takes no order",
    )


def test_an_odd_lot_left_alone_by_a_cancelled_order_no_longer_trades(account, trader, exchange, place, settings):
    Position.objects.filter(account=account, instrument__symbol="A.HK").update(quantity=1550)
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    lots = place(trader, account, services.Wanted("A.HK", 1500, D("372.40")))
    odd = place(trader, account, services.Wanted("A.HK", 50, D("372.40")))  # with the 1500 it closes
    services.cancel(user=trader, orders=[lots])
    services.mark_cancelled(lots.pk)
    settings.LIQUIDATION_GATEWAY = "liquidation.gateway.SimulatedExchange"

    exchange()

    odd.refresh_from_db()
    assert odd.status == OrderStatus.REJECTED
    assert odd.reject_reason.startswith("an odd lot trades only to close the position")
    assert held(account, "A.HK") == 1550


def test_a_fill_reported_twice_is_booked_once(account, trader):
    order = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 200)])[0]
    services.record_fill(order.pk, 100, D("380"), order.created_at, "ex-1")
    services.record_fill(order.pk, 100, D("380"), order.created_at, "ex-1")

    order.refresh_from_db()
    assert (order.filled_quantity, order.status) == (100, OrderStatus.PARTIALLY_FILLED)
    assert held(account, "A.HK") == 1900


@pytest.mark.django_db(transaction=True)
def test_a_fill_the_database_undid_to_break_a_deadlock_is_booked_again_once(account, trader, monkeypatch):
    from django.db import OperationalError
    from psycopg import errors

    order = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 200)])[0]
    recompute, tries = services.risk_services.recompute_accounts, []

    def deadlocked_once(*args, **kwargs):
        tries.append(1)
        if len(tries) == 1:  # after the position, the cash and the order are written: all of it undone
            raise OperationalError("deadlock detected") from errors.DeadlockDetected("deadlock detected")
        return recompute(*args, **kwargs)

    monkeypatch.setattr(services.risk_services, "recompute_accounts", deadlocked_once)

    fill = services.record_fill(order.pk, 100, D("380"), order.created_at, "gw-deadlock")

    assert fill is not None
    assert len(tries) == 2
    order.refresh_from_db()
    assert (order.filled_quantity, order.status) == (100, OrderStatus.PARTIALLY_FILLED)
    assert held(account, "A.HK") == 1900  # moved once, not twice
    assert order.fills.count() == 1


# --- commands ---------------------------------------------------------------------------------------


def test_plan_liquidation_prints_the_plan_as_json(account):
    out = StringIO()
    call_command("plan_liquidation", "M100001", "--cost", "0", stdout=out)

    [plan] = json.loads(out.getvalue())
    assert plan["account_no"] == "M100001"
    assert plan["covers"] is True
    assert plan["value"] == "498000.00"
    assert plan["orders"] == [
        {"symbol": "B.HK", "side": "buy", "quantity": 1000},
        {"symbol": "A.HK", "side": "sell", "quantity": 1100},
    ]
    assert len(plan["projected"]) == 19
    assert plan["projected"]["call_amount"] == "0.00"
    assert plan["projected"]["call_type"] is None


def test_plan_liquidation_names_a_bad_argument(account):
    with pytest.raises(CommandError, match="unknown account"):
        call_command("plan_liquidation", "NOPE")
    with pytest.raises(CommandError, match="'abc' is not a number written in ASCII digits"):
        call_command("plan_liquidation", "M100001", "--buffer", "abc")
    with pytest.raises(CommandError, match="is not from 0 to 100"):
        call_command("plan_liquidation", "M100001", "--cost", "101")
    with pytest.raises(CommandError, match="unknown symbol"):
        call_command("plan_liquidation", "M100001", "--only", "NOPE")
    Instrument.objects.create(symbol="Z.HK", lot_size=100, price="1")
    err = StringIO()
    call_command("plan_liquidation", "M100001", "--only", "Z.HK", stdout=StringIO(), stderr=err)
    assert err.getvalue().strip() == "M100001 holds none of Z.HK: its plan has no order"
    Instrument.objects.filter(symbol="A.HK").update(currency="EUR")
    with pytest.raises(CommandError, match="M100001: no FX rate for currency 'EUR': nothing can be planned"):
        call_command("plan_liquidation", "M100001")


def test_plan_liquidation_only_reads_every_symbol_given_in_one_option_or_several(account):
    plans = []
    for only in (
        ["--only", "A.HK", "B.HK"],
        ["--only", "A.HK", "--only", "B.HK"],
        ["--only", "B.HK", "--only", "A.HK"],
    ):
        out = StringIO()
        call_command("plan_liquidation", "M100001", *only, stdout=out)
        [plan] = json.loads(out.getvalue())
        plans.append(plan["orders"])

    assert plans[0] == plans[1] == plans[2]
    assert {order["symbol"] for order in plans[0]} == {"A.HK", "B.HK"}


def test_liquidate_and_export_orders(account, trader):
    out = StringIO()
    call_command("liquidate", "M100001", "--user", "trader", "--symbol", "A.HK", "--quantity", "200", stdout=out)
    [placed] = json.loads(out.getvalue())
    assert (placed["symbol"], placed["side"], placed["quantity"], placed["created_by"]) == (
        "A.HK",
        "sell",
        200,
        "trader",
    )

    with pytest.raises(CommandError, match="free quantity"):
        call_command("liquidate", "M100001", "--user", "trader", "--symbol", "A.HK", "--quantity", "5000")

    out = StringIO()
    call_command("export_orders", "--account", "M100001", stdout=out)
    [exported] = json.loads(out.getvalue())
    assert exported["id"] == placed["id"]
    assert exported["limit_price"] == "372.4"


def test_liquidate_as_a_viewer_is_refused_and_audited(account, viewer, trader):
    from console.models import AuditEntry

    with pytest.raises(CommandError, match="may not liquidate"):
        call_command("liquidate", "M100001", "--user", "viewer", "--plan")
    with pytest.raises(CommandError, match="free quantity"):
        call_command("liquidate", "M100001", "--user", "trader", "--symbol", "A.HK", "--quantity", "5000")
    with pytest.raises(CommandError, match="no account 'X1' that trader may see"):
        call_command("liquidate", "X1", "--user", "trader", "--plan")
    with pytest.raises(CommandError, match=r"unknown symbol\(s\): 'NOPE.HK'"):  # not "nothing can be sold"
        call_command("liquidate", "m100001", "--user", "trader", "--plan", "--only", "NOPE.HK")

    entries = AuditEntry.objects.filter(action="liquidate").order_by("pk")
    assert [(e.user.username, e.detail["account"], e.detail["via"]) for e in entries] == [
        ("viewer", "M100001", "command"),
        ("trader", "M100001", "command"),
        ("trader", "X1", "command"),
    ]
    assert entries[0].outcome.startswith("refused: You may not liquidate")
    assert "free quantity" in entries[1].outcome
    assert entries[1].targets == [{"call": MarginCall.objects.get(account__account_no="M100001").pk}]


# --- races on PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def holding_gateway(settings):
    """Orders stay working until the test fills or cancels them."""
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"


def run_together(*jobs):
    """Run the jobs in threads started at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as error:
            results[index] = error
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_traders_at_once_never_order_more_than_the_position(import_book, worked_book, holding_gateway):
    import_book(worked_book)
    from tests.users import make_user

    first, second = make_user("one", "RiskWarningFull"), make_user("two", "RiskWarningFull")
    account = Account.objects.get(account_no="M100001")

    for _round in range(5):
        results = run_together(
            lambda: services.place(user=first, account=account, wanted=[services.Wanted("A.HK", 1500)]),
            lambda: services.place(user=second, account=account, wanted=[services.Wanted("A.HK", 1500)]),
        )
        assert sum(isinstance(result, list) for result in results) == 1, results
        assert sum(isinstance(result, services.Refused) for result in results) == 1
        assert sum(o.remaining for o in Order.objects.filter(status__in=["pending", "submitted"])) == 1500
        Order.objects.update(status=OrderStatus.CANCELLED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_a_fill_leaves_one_story(import_book, worked_book, holding_gateway):
    import_book(worked_book)
    from tests.users import make_user

    trader = make_user("racer", "RiskWarningFull")
    account = Account.objects.get(account_no="M100001")
    for index in range(5):
        order = services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)])[0]
        fill, cancelled = run_together(
            lambda order=order, index=index: services.record_fill(
                order.pk, 100, D("380"), order.created_at, f"race-{index}"
            ),
            lambda order=order: services.mark_cancelled(order.pk),
        )
        order.refresh_from_db()
        if order.status == OrderStatus.FILLED:
            assert fill is not None
            assert cancelled is False
        else:
            assert order.status == OrderStatus.CANCELLED
            assert fill is None
            assert not order.fills.exists()
    filled = Order.objects.filter(status=OrderStatus.FILLED).count()
    assert held(account, "A.HK") == 2000 - 100 * filled


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_over_the_same_call_at_once_place_its_plan_once(import_book, worked_book, holding_gateway):
    import_book(worked_book)
    from tests.users import make_user

    first, second = make_user("one", "RiskWarningFull"), make_user("two", "RiskWarningFull")
    account = Account.objects.get(account_no="M100001")
    alone = services.liquidate_calls(user=first, accounts=[account], key="alone")[0].orders
    planned = sorted((order.instrument.symbol, order.quantity) for order in alone)
    assert planned
    Order.objects.update(status=OrderStatus.CANCELLED)

    for round_no in range(4):
        results = run_together(
            lambda round_no=round_no: services.liquidate_calls(user=first, accounts=[account], key=f"one-{round_no}"),
            lambda round_no=round_no: services.liquidate_calls(user=second, accounts=[account], key=f"two-{round_no}"),
        )
        requests = [request for result in results for request in result]
        placed = [request for request in requests if request.orders]
        assert len(placed) == 1, results
        assert sorted((order.instrument.symbol, order.quantity) for order in placed[0].orders) == planned
        [other] = [request for request in requests if not request.orders]
        assert other.refused == "The plan has no order: the call is already covered."
        Order.objects.update(status=OrderStatus.CANCELLED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_form_sent_twice_at_once_answers_already_sent_not_a_refusal(import_book, worked_book, holding_gateway):
    import_book(worked_book)
    from tests.users import make_user

    trader = make_user("one", "RiskWarningFull")
    account = Account.objects.get(account_no="M100001")
    wanted = [services.Wanted("A.HK", 2000)]  # all the account holds: the twin's would not fit

    for round_no in range(4):
        results = run_together(
            *[lambda key=f"form-{round_no}": services.place(user=trader, account=account, wanted=wanted, key=key)] * 3
        )
        assert all(isinstance(result, list) for result in results), results
        assert sorted(result.again for result in results) == [False, True, True]
        assert Order.objects.filter(idempotency_key__startswith=f"form-{round_no}:").count() == 1
        Order.objects.update(status=OrderStatus.CANCELLED)


# --- bad input --------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(["A.HK\x00", "Ａ.HK", ""])
ODD_PRICE = st.none() | st.sampled_from(
    ["NaN", "Infinity", "-1", "0", "1e30", "372.4", "abc", "372.40\x00", "0.0000001", "-0", "1E+8"]
)
ODD_QUANTITY = st.integers(min_value=-(10**30), max_value=10**30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbol=st.one_of(st.just("A.HK"), ODD_TEXT), quantity=ODD_QUANTITY, price=ODD_PRICE)
def test_no_order_request_breaks_placing(account, trader, symbol, quantity, price):
    """Whatever the symbol, quantity or price, an order is placed or refused with a reason."""
    try:
        services.place(user=trader, account=account, wanted=[services.Wanted(symbol, quantity, price)])
    except services.Refused as refused:
        outcome = str(refused)
    else:
        outcome = "placed"
    assert outcome
    Order.objects.all().delete()


# --- batches ----------------------------------------------------------------------------------------


def test_a_batch_places_each_accounts_plan_or_says_why_not(import_book, account, trader):
    from tests.books import one_stock_book

    import_book(one_stock_book(desk="HK2", account_no="T3"))  # one stock: S.HK
    other = Account.objects.get(account_no="T3")
    Position.objects.filter(account=other).update(quantity=0)  # nothing left to sell: a debit

    requests = services.liquidate_calls(user=trader, accounts=[account, other], key="batch-1")

    placed, refused = requests
    assert [(o.instrument.symbol, o.quantity, o.source) for o in placed.orders][:2] == [
        ("B.HK", 1000, "batch"),
        ("A.HK", 1100, "batch"),
    ]
    assert placed.refused is None
    assert refused.orders is None
    assert str(refused.refused) == "A debit call has no position to sell or buy back: only a deposit meets it."
    # An account that holds stock, none of it tradable, is told so.
    import_book(one_stock_book(desk="HK2", account_no="T4"))
    Instrument.objects.filter(symbol="S.HK").update(status="suspended")
    [stuck] = services.liquidate_calls(user=trader, accounts=[Account.objects.get(account_no="T4")])
    assert str(stuck.refused) == (
        "Nothing can be sold or bought back for this call (only suspended, delisted or reserved stock)."
    )
    # The same batch again places nothing more.
    again = services.liquidate_calls(user=trader, accounts=[account, other], key="batch-1")
    assert sorted(o.pk for o in again[0].orders) == sorted(o.pk for o in placed.orders)
    assert Order.objects.count() == len(placed.orders)
    assert AuditEntry.objects.filter(action="liquidate").count() == 1


def test_a_batch_reads_in_a_fixed_number_of_queries(import_book, account, trader, django_assert_max_num_queries):
    from tests.books import one_stock_book

    for number in range(5):
        import_book(one_stock_book(desk="HK2", account_no=f"Q{number}"))
    accounts = list(Account.objects.all())
    with django_assert_max_num_queries(23):
        services.liquidate_calls(user=trader, accounts=accounts)
    assert Order.objects.values("account").distinct().count() >= 5


def test_a_batch_for_only_stocks_the_account_does_not_hold_says_so(account, trader):
    [request] = services.liquidate_calls(user=trader, accounts=[account], only=["700.HK"])

    assert request.refused == "None of the chosen stocks (700.HK) can be sold or bought back for this call."
    assert not Order.objects.exists()


def test_a_stock_recovery_buy_back_is_no_margin_calls_order(db, trader):
    from liquidation.models import Source
    from tests.factories import InstrumentFactory, open_call

    call = open_call(desk__code="HK1")
    short = InstrumentFactory(symbol="SHORT.HK")
    Position.objects.create(account=call.account, instrument=short, quantity=-200)

    [recovered] = services.place(
        user=trader, account=call.account, wanted=[services.Wanted("SHORT.HK", 200)], source=Source.RECOVERY
    )
    [liquidated] = services.place(user=trader, account=call.account, wanted=[services.Wanted(call_stock(call), 100)])

    assert (recovered.source, recovered.call) == ("recovery", None)
    assert (liquidated.source, liquidated.call) == ("manual", call)


def call_stock(call) -> str:
    return Position.objects.filter(account=call.account, quantity__gt=0).values_list("instrument__symbol", flat=True)[0]


def test_a_limit_refused_as_far_from_an_old_last_price_says_when_that_price_was(account, trader, time_machine):
    from datetime import datetime, timedelta

    from book.trading_calendar import HONG_KONG

    now = datetime(2026, 12, 23, 10, 30, tzinfo=HONG_KONG)
    time_machine.move_to(now)
    Instrument.objects.filter(symbol="A.HK").update(price_time=now - timedelta(minutes=4))
    with pytest.raises(services.Refused) as fresh:
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D("300"))])
    assert str(fresh.value).endswith("give a limit from 342 to 418.")

    Instrument.objects.filter(symbol="A.HK").update(price_time=now - timedelta(minutes=40))
    with pytest.raises(services.Refused) as old:
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100, D("300"))])
    assert str(old.value) == (
        "A.HK: 300 is more than 10% from the last price 380; give a limit from 342 to 418."
        " That price is from 2026-12-23 09:50: check the price feed and the market before you order."
    )
