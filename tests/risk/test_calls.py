"""A margin call's life: open, follow, escalate and ease, close by each cause; exception, remarks,
deadline moves; snapshots; the one-open-call rule."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from book import ticks
from book.models import Account, Position
from book.trading_calendar import HONG_KONG
from console.models import AuditEntry, ImmutableRecord
from risk import calls, services
from risk.models import CallSnapshot, DeadlineChange, MarginCall
from risk.tasks import daily_snapshots
from tests.books import one_stock_book
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db

HK = HONG_KONG


def at(text):
    return dt.datetime.fromisoformat(text)


def the_call(account_no="T1") -> MarginCall:
    return MarginCall.objects.get(account__account_no=account_no)


def tick(price, time, django_capture_on_commit_callbacks):
    """A price as a live feed sends it: it arrives at its own time (the clock is moved there)."""
    one_pass(at(time) + dt.timedelta(seconds=1), [("S.HK", price, time)], django_capture_on_commit_callbacks)


def one_pass(now, prices, django_capture_on_commit_callbacks):
    """These (symbol, price, time) ticks arriving together at ``now``: one recompute pass follows them."""
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        result = ticks.apply_and_recompute([{"symbol": sy, "price": pr, "time": ti} for sy, pr, ti in prices])
    assert result.applied == len(prices), result.outcomes


def test_a_call_that_closes_again_on_a_tick_of_the_same_time_gets_its_own_close_snapshot(
    import_book, django_capture_on_commit_callbacks
):
    import_book(one_stock_book())
    moment = "2026-12-23T11:00:00+08:00"
    for price, sent in (("120", 1), ("95", 2), ("120", 3)):  # three ticks stamped alike, sent a second apart
        one_pass(at(moment) + dt.timedelta(seconds=sent), [("S.HK", price, moment)], django_capture_on_commit_callbacks)

    call = the_call()
    assert (call.status, call.reopened_count) == ("closed", 1)
    assert call.snapshots.filter(kind="close").count() == 2


def test_a_call_opens_at_its_own_accounts_tick_though_its_pass_follows_a_later_one(
    import_book, django_capture_on_commit_callbacks
):
    book = one_stock_book(cash="-40000")  # S.HK at 100: no call; below 80, a call
    book["instruments"].append({"symbol": "B.HK", "lot_size": 100, "price": "10"})  # T1 holds none
    import_book(book)

    one_pass(
        at("2026-12-23T16:00:02+08:00"),
        [
            ("S.HK", "75", "2026-12-23T15:59:59+08:00"),  # before the close
            ("B.HK", "11", "2026-12-23T16:00:01+08:00"),  # after it
        ],
        django_capture_on_commit_callbacks,
    )

    call = the_call()
    assert call.triggered_at == at("2026-12-23T15:59:59+08:00")
    assert call.deadline == at("2026-12-29T16:00:00+08:00")  # Wednesday's session is the base
    assert call.snapshots.get(kind="trigger").taken_at == call.triggered_at


def test_a_call_closes_at_its_own_accounts_tick_though_its_pass_follows_a_later_one(
    import_book, django_capture_on_commit_callbacks
):
    book = one_stock_book()  # a call at 10:00
    book["instruments"].append({"symbol": "B.HK", "lot_size": 100, "price": "10"})  # T1 holds none
    import_book(book)

    one_pass(
        at("2026-12-23T11:00:31+08:00"),
        [("S.HK", "120", "2026-12-23T11:00:00+08:00"), ("B.HK", "11", "2026-12-23T11:00:30+08:00")],
        django_capture_on_commit_callbacks,
    )

    call = the_call()
    assert (call.status, call.closed_at) == ("closed", at("2026-12-23T11:00:00+08:00"))
    assert call.snapshots.get(kind="close").taken_at == call.closed_at


def test_a_friday_evening_close_may_reopen_until_mondays_close(import_book, django_capture_on_commit_callbacks):
    import_book(one_stock_book(as_of="2026-11-20T10:00:00+08:00"))  # a call on a Friday

    tick("120", "2026-11-20T17:00:00+08:00", django_capture_on_commit_callbacks)  # closed after the close

    assert the_call().reopen_until == at("2026-11-23T16:00:00+08:00")


def test_a_tick_stamped_before_the_close_it_follows_reopens_the_call(import_book, django_capture_on_commit_callbacks):
    book = one_stock_book(cash="-61000")  # a call of 1,000 at 10:00
    book["instruments"].append({"symbol": "B.HK", "lot_size": 100, "price": "10"})  # no margin value
    book["accounts"][0]["positions"].append({"symbol": "B.HK", "quantity": 1000})
    import_book(book)
    tick("120", "2026-12-23T11:00:05+08:00", django_capture_on_commit_callbacks)  # S.HK up: closed
    assert the_call().status == "closed"
    # B.HK's tick left its feed before S.HK's and arrives after it: called again
    one_pass(
        at("2026-12-23T11:00:06+08:00"),
        [("B.HK", "0.5", "2026-12-23T11:00:03+08:00")],
        django_capture_on_commit_callbacks,
    )

    [call] = MarginCall.objects.all()
    assert (call.status, call.reopened_count) == ("open", 1)


@pytest.fixture
def trader(db):
    return User.objects.create_user("trader")


def test_a_book_opens_a_call_at_its_as_of_with_the_figures_and_a_trigger_snapshot(import_book):
    import_book(one_stock_book())

    call = the_call()
    assert call.status == "open"
    assert call.call_type == call.trigger_type == "margin_call"
    assert call.triggered_at == at("2026-12-23T10:00:00+08:00")
    # Wed 23 Dec in session is the base; 24 Dec (half day), 28, 29 -> close of the 29th.
    assert call.deadline == at("2026-12-29T16:00:00+08:00")
    assert call.call_amount_at_trigger == Decimal("10000.00")
    assert call.nav_ratio_at_trigger == Decimal("0.4000")
    [snapshot] = call.snapshots.all()
    assert snapshot.kind == "trigger"
    assert snapshot.book["figures"]["call_amount"] == "10000.00"
    assert (
        snapshot.book["positions"][0] | {"symbol": "S.HK", "quantity": 1000, "price": "100.000000"}
        == (snapshot.book["positions"][0])
    )
    assert snapshot.book["cash"] == [
        {"currency": "HKD", "amount": "-60000.0000", "fx_rate": "1", "hkd_value": "-60000.00"}
    ]
    assert "missing_fx" not in snapshot.book  # every currency has its rate


@pytest.mark.parametrize(
    ("as_of", "deadline"),
    [
        # A replayed statement in the past: Friday after the close counts from Monday 9 March;
        # three sessions after it -> Thursday 12 March.
        ("2026-03-06T17:30:00+08:00", "2026-03-12T16:00:00+08:00"),
        # A scenario in the future, past the calendar's default end; a Sunday counts from Monday 5 June.
        ("2028-06-04T09:00:00+08:00", "2028-06-08T16:00:00+08:00"),
        # 24 Dec is a half day: a trigger after its 12:00 close counts from the 28th -> 29, 30, 31
        # (the 31st is a half day too).
        ("2026-12-24T13:00:00+08:00", "2026-12-31T12:00:00+08:00"),
    ],
)
def test_the_trigger_time_is_the_books_even_in_the_past_or_future(import_book, as_of, deadline):
    import_book(one_stock_book(as_of=as_of))

    call = the_call()
    assert call.triggered_at == at(as_of)
    assert call.deadline == at(deadline)


def test_the_deadline_uses_the_rule_sets_number_of_sessions(import_book):
    from risk.models import RuleSet

    RuleSet.objects.filter(account_kind="margin").update(deadline_sessions=1)
    import_book(one_stock_book())

    assert the_call().deadline == at("2026-12-24T12:00:00+08:00")


def test_a_tick_escalates_to_force_call_with_a_snapshot_then_eases(import_book, django_capture_on_commit_callbacks):
    import_book(one_stock_book())

    tick("90", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    call = the_call()
    assert call.call_type == "force_call"
    assert call.trigger_type == "margin_call"
    # The open call follows the account's figures: equity 90,000 - 60,000; MM 45,000 - 30,000.
    assert (call.equity, call.call_amount, call.nav_ratio) == (
        Decimal("30000.00"),
        Decimal("15000.00"),
        Decimal("0.3333"),
    )
    # The escalation notice (by email and SMS) has its snapshots too.
    assert [s.kind for s in call.snapshots.all()] == ["trigger", "force_call", "notice_email", "notice_sms"]
    assert call.snapshots.get(kind="force_call").call_type == "force_call"

    tick("101", "2026-12-23T11:05:00+08:00", django_capture_on_commit_callbacks)  # equity 41,000 > FM 40,400
    call.refresh_from_db()
    assert call.call_type == "margin_call"
    assert call.closed_at is None
    assert MarginCall.objects.count() == 1


def test_a_price_rise_closes_the_call_by_the_market_at_the_ticks_time(import_book, django_capture_on_commit_callbacks):
    import_book(one_stock_book())

    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)

    call = the_call()
    assert call.status == "closed"
    assert call.close_cause == "market"
    assert call.closed_at == at("2026-12-23T11:00:00+08:00")
    close = call.snapshots.get(kind="close")
    assert close.call_amount == 0
    assert close.book["positions"][0]["price"] == "120.000000"


def test_a_deposit_closes_the_call_with_cause_deposit(import_book):
    import_book(one_stock_book())

    import_book(one_stock_book(as_of="2026-12-24T09:45:00+08:00", cash="-40000"))

    call = the_call()
    assert (call.status, call.close_cause) == ("closed", "deposit")
    assert call.closed_at == at("2026-12-24T09:45:00+08:00")


def test_a_call_a_book_closes_by_its_prices_though_its_cash_fell_is_closed_by_the_market(import_book):
    import_book(one_stock_book())  # 1,000 at 100, cash -60,000: called

    # Cash fell by 5,000 (a fee) while the price rose to 130: the market met the call, not a deposit.
    import_book(one_stock_book(as_of="2026-12-24T09:45:00+08:00", price="130", cash="-65000"))

    assert (the_call().status, the_call().close_cause) == ("closed", "market")


def test_a_conversion_between_currencies_while_prices_meet_the_call_is_not_a_deposit(import_book):
    book = one_stock_book()
    book["fx_rates"] = {"USD": "7.8"}
    import_book(book)

    later = one_stock_book(as_of="2026-12-24T09:45:00+08:00", price="130", cash="-67800")
    later["fx_rates"] = {"USD": "7.8"}
    later["accounts"][0]["cash"]["USD"] = "1000"  # HKD 7,800 turned into USD 1,000: no more cash in HKD
    import_book(later)

    assert (the_call().status, the_call().close_cause) == ("closed", "market")


def test_an_account_moved_to_the_cash_kind_closes_its_call_as_such_and_reopens_if_moved_back(import_book):
    import_book(one_stock_book())  # called at 10:00 on 23 December

    import_book(one_stock_book(as_of="2026-12-23T10:30:00+08:00", kind="cash"))  # still short, but cash now

    call = the_call()
    assert (call.status, call.close_cause) == ("closed", "cash_account")
    assert str(call.get_close_cause_display()) == "Moved to a cash account"

    import_book(one_stock_book(as_of="2026-12-23T11:00:00+08:00"))  # a mistake, put right

    call = the_call()
    assert (call.status, call.close_cause, call.reopened_count) == ("open", "", 1)


def test_a_deposit_with_a_move_to_the_cash_kind_closes_the_call_by_the_deposit(import_book):
    import_book(one_stock_book())

    import_book(one_stock_book(as_of="2026-12-23T10:30:00+08:00", kind="cash", cash="0"))  # paid in, and cash

    call = the_call()
    assert (call.status, call.close_cause, call.reopen_until) == ("closed", "deposit", None)


def test_a_debt_cleared_from_the_book_closes_the_call_by_a_deposit(import_book):
    import_book(one_stock_book())
    book = one_stock_book(as_of="2026-12-24T09:45:00+08:00")
    book["accounts"][0]["cash"] = {}  # the -60,000 line is gone: paid in

    import_book(book)

    assert (the_call().status, the_call().close_cause) == ("closed", "deposit")


def test_a_book_older_than_the_call_closes_it_when_it_opened_never_before(import_book):
    import_book(one_stock_book())  # called at 10:00 on 23 December

    import_book(one_stock_book(as_of="2026-12-01T10:00:00+08:00", cash="-40000"))  # a statement replayed late

    call = the_call()
    assert (call.status, call.close_cause) == ("closed", "deposit")
    assert call.closed_at == call.triggered_at == at("2026-12-23T10:00:00+08:00")


def test_a_call_opened_after_a_trader_ended_the_last_one_is_triggered_at_that_end_not_before(
    import_book, trader, django_capture_on_commit_callbacks
):
    import_book(one_stock_book())  # called at 10:00
    with time_machine.travel(at("2026-12-23T11:00:10+08:00"), tick=False):
        assert calls.end_call(the_call().pk, reason="client promised a cheque", user=trader)

    # A price stamped 11:00:05, while the call was still open, arrives after it was ended.
    one_pass(
        at("2026-12-23T11:00:11+08:00"),
        [("S.HK", "99", "2026-12-23T11:00:05+08:00")],
        django_capture_on_commit_callbacks,
    )

    ended, new = MarginCall.objects.order_by("pk")
    assert (ended.close_cause, new.closed_at) == ("manual", None)
    assert new.triggered_at == ended.closed_at == at("2026-12-23T11:00:10+08:00")
    assert new.snapshots.get(kind="trigger").taken_at == new.triggered_at


def test_a_call_opened_by_a_book_older_than_the_last_close_is_triggered_at_that_close(import_book):
    import_book(one_stock_book())  # called at 10:00
    import_book(one_stock_book(as_of="2026-12-23T11:00:00+08:00", cash="-40000"))  # a deposit closes it at 11:00

    import_book(one_stock_book(as_of="2026-12-23T10:30:00+08:00", cash="-60000"))  # a statement of 10:30, late

    first, second = MarginCall.objects.order_by("pk")
    assert (first.close_cause, first.closed_at) == ("deposit", at("2026-12-23T11:00:00+08:00"))
    assert second.triggered_at == first.closed_at


def test_a_liquidation_closes_the_call_with_cause_liquidation(import_book):
    import_book(one_stock_book())
    account = Account.objects.get(account_no="T1")
    # Half the position sold at 100: the loan falls by 50,000.
    Position.objects.filter(account=account).update(quantity=500)
    account.cash_balances.update(amount=Decimal("-10000"))

    result = services.recompute_accounts(
        account_ids=[account.pk], at=at("2026-12-23T14:00:00+08:00"), causes={account.pk: "liquidation"}
    )

    assert result.calls.closed == [the_call().pk]
    assert the_call().close_cause == "liquidation"


def test_a_call_the_market_closed_and_called_again_within_the_window_is_reopened(
    import_book, django_capture_on_commit_callbacks
):
    import_book(one_stock_book())  # called at 10:00 on Wednesday 23 December
    first = the_call()
    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)  # the market closes it
    closed = the_call()
    # The window: the close of the next session after it closed (Christmas Eve, a half day: 12:00).
    assert (closed.status, closed.close_cause) == ("closed", "market")
    assert closed.reopen_until == at("2026-12-24T12:00:00+08:00")

    tick("95", "2026-12-23T11:30:00+08:00", django_capture_on_commit_callbacks)

    [call] = MarginCall.objects.all()  # the same call, not a new one
    assert (call.pk, call.status, call.closed_at, call.close_cause) == (first.pk, "open", None, "")
    assert (call.triggered_at, call.deadline) == (first.triggered_at, first.deadline)
    assert (call.reopened_count, call.reopen_until) == (1, None)
    # Back at 95, a force call (it closed a margin call): escalated, with its snapshot (and notices).
    assert call.call_type == "force_call"
    kinds = call.snapshots.exclude(kind__startswith="notice").order_by("taken_at", "pk").values_list("kind", flat=True)
    assert list(kinds) == ["trigger", "close", "reopened", "force_call"]
    out = io.StringIO()
    call_command("export_risk", "--account", "T1", stdout=out)
    [row] = json.loads(out.getvalue())
    assert row["call"]["triggered_at"] == "2026-12-23T10:00:00+08:00"  # the first trigger
    assert row["call"]["deadline"] == timezone.localtime(first.deadline).isoformat()
    assert row["call"]["reopened"] == 1


@pytest.mark.parametrize(
    ("auto_at", "kept"),
    [("2026-12-23T11:15:00+08:00", False), ("2026-12-23T15:00:00+08:00", True)],
    ids=["came while closed", "still to come"],
)
def test_a_reopened_call_keeps_its_auto_liquidation_time_only_if_it_has_not_come(
    import_book, django_capture_on_commit_callbacks, auto_at, kept
):
    import_book(one_stock_book())  # called at 10:00
    MarginCall.objects.filter(pk=the_call().pk).update(
        auto_liquidate_at=at(auto_at), auto_liquidation_note={"en": "earlier"}
    )
    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)  # the market closes it
    tick("95", "2026-12-23T11:30:00+08:00", django_capture_on_commit_callbacks)  # and calls it again

    call = the_call()
    assert (call.status, call.reopened_count) == ("open", 1)
    if kept:
        assert (call.auto_liquidate_at, call.auto_liquidation_note) == (at(auto_at), {"en": "earlier"})
    else:  # it would have placed the plan the minute the call was back
        assert (call.auto_liquidate_at, call.auto_liquidation_note) == (None, {})


@pytest.mark.parametrize(
    ("again", "reopened"),
    [("2026-12-24T12:00:00+08:00", True), ("2026-12-24T12:00:01+08:00", False)],
    ids=["at the window's end", "a second after"],
)
def test_the_reopen_window_ends_at_the_next_sessions_close(
    import_book, django_capture_on_commit_callbacks, again, reopened
):
    import_book(one_stock_book())
    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)

    tick("95", again, django_capture_on_commit_callbacks)

    calls = list(MarginCall.objects.order_by("pk"))
    if reopened:
        assert [(c.status, c.triggered_at) for c in calls] == [("open", at("2026-12-23T10:00:00+08:00"))]
    else:
        assert [(c.status, c.triggered_at) for c in calls] == [
            ("closed", at("2026-12-23T10:00:00+08:00")),
            ("open", at(again)),
        ]


def test_a_call_reopened_and_closed_again_keeps_each_close(import_book, django_capture_on_commit_callbacks):
    import_book(one_stock_book())
    for price, time in (("120", "11:00"), ("95", "11:10"), ("120", "11:20"), ("95", "11:25"), ("120", "11:28")):
        tick(price, f"2026-12-23T{time}:00+08:00", django_capture_on_commit_callbacks)

    [call] = MarginCall.objects.all()
    assert (call.status, call.reopened_count, call.closed_at) == ("closed", 2, at("2026-12-23T11:28:00+08:00"))
    kinds = list(
        call.snapshots.exclude(kind__startswith="notice").order_by("taken_at", "pk").values_list("kind", flat=True)
    )
    assert kinds == ["trigger", "close", "reopened", "force_call", "close", "reopened", "close"]


def test_a_rule_set_without_a_window_never_reopens(import_book, django_capture_on_commit_callbacks):
    from risk.models import RuleSet

    RuleSet.objects.update_or_create(account_kind="margin", defaults={"reopen_sessions": 0})
    import_book(one_stock_book())
    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    tick("95", "2026-12-23T11:30:00+08:00", django_capture_on_commit_callbacks)

    assert list(MarginCall.objects.order_by("pk").values_list("status", flat=True)) == ["closed", "open"]


def test_a_close_by_deposit_is_final(import_book):
    import_book(one_stock_book())
    import_book(one_stock_book(as_of="2026-12-23T10:30:00+08:00", cash="-40000"))  # a deposit closes it
    import_book(one_stock_book(as_of="2026-12-23T11:00:00+08:00", cash="-60000"))  # called again

    first, second = MarginCall.objects.order_by("pk")
    assert (first.status, first.close_cause, first.reopen_until) == ("closed", "deposit", None)
    assert (second.status, second.triggered_at) == ("open", at("2026-12-23T11:00:00+08:00"))


def test_a_trader_ends_a_call_by_hand_with_a_reason_and_it_is_final(import_book, trader):
    import_book(one_stock_book())
    call = the_call()

    with pytest.raises(calls.CallActionRefused, match="reason is required"):
        calls.end_call(call.pk, reason="  ", user=trader)
    assert calls.end_call(call.pk, reason="client paid by cheque", user=trader) is True
    assert calls.end_call(call.pk, reason="again", user=trader) is False  # already closed

    call.refresh_from_db()
    assert (call.status, call.close_cause, call.close_reason, call.reopen_until) == (
        "closed",
        "manual",
        "client paid by cheque",
        None,
    )
    entries = list(AuditEntry.objects.filter(action="end_call").order_by("pk").values_list("detail", flat=True))
    assert entries[0] == {"reason": "client paid by cheque", "ended": True}
    services.recompute_accounts(at=at("2026-12-23T12:00:00+08:00"))  # still called: a new call, not this one
    assert MarginCall.objects.filter(closed_at__isnull=True).exclude(pk=call.pk).count() == 1


def test_running_the_same_recompute_twice_changes_nothing(import_book):
    import_book(one_stock_book())
    before = list(MarginCall.objects.values()), list(CallSnapshot.objects.values_list("pk", flat=True))

    result = services.recompute_accounts(at=at("2026-12-23T12:00:00+08:00"))

    assert result.calls.call_ids() == []
    assert (list(MarginCall.objects.values()), list(CallSnapshot.objects.values_list("pk", flat=True))) == before


def test_cash_and_unlisted_kinds_open_no_call(import_book, worked_book):
    import_book(worked_book)

    kinds = set(MarginCall.objects.values_list("account__kind", flat=True))
    assert kinds <= {"margin", "intraday"}
    assert MarginCall.objects.filter(account__account_no="I200001").exists()


def test_the_database_allows_one_open_call_per_account(import_book):
    import_book(one_stock_book())
    call = the_call()

    with pytest.raises(IntegrityError), transaction.atomic():
        MarginCall.objects.create(
            account=call.account,
            call_type="debit",
            trigger_type="debit",
            triggered_at=call.triggered_at,
            deadline=call.deadline,
            call_amount_at_trigger=1,
            updated_at=call.updated_at,
        )


@pytest.mark.parametrize(
    ("seconds", "hours"), [(-3600, 1), (0, 1), (1, 1), (3600, 1), (3601, 2), (36000, 10), (36000.5, 11)]
)
def test_elapsed_hours_round_up_with_a_minimum_of_one(seconds, hours):
    start = dt.datetime(2026, 12, 23, 10, tzinfo=HK)

    assert calls.elapsed_hours(start, start + dt.timedelta(seconds=seconds)) == hours


def test_long_outstanding_after_the_rule_sets_days():
    start = dt.datetime(2026, 1, 1, 10, tzinfo=HK)

    assert not calls.is_long_outstanding(start, start + dt.timedelta(days=90), 90)
    assert calls.is_long_outstanding(start, start + dt.timedelta(days=90, seconds=1), 90)


def test_exception_needs_a_reason_and_is_audited(import_book, trader):
    import_book(one_stock_book())
    call = the_call()

    with pytest.raises(calls.CallActionRefused):
        calls.mark_exception([call.pk], reason="  ", user=trader)
    assert calls.mark_exception([call.pk], reason="client disputes price", user=trader) == [call.pk]

    call.refresh_from_db()
    assert (call.status, call.exception_reason, call.exception_by) == ("exception", "client disputes price", trader)
    # Marking again changes nothing; unmarking brings it back.
    assert calls.mark_exception([call.pk], reason="again", user=trader) == []
    assert calls.unmark_exception([call.pk], user=trader) == [call.pk]
    call.refresh_from_db()
    assert (call.status, call.exception_reason) == ("open", "")
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "mark_exception",
        "mark_exception",
        "unmark_exception",
    ]


def test_an_exception_call_still_closes_when_met(import_book, trader, django_capture_on_commit_callbacks):
    import_book(one_stock_book())
    calls.mark_exception([the_call().pk], reason="disputed", user=trader)

    tick("120", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)

    assert the_call().status == "closed"


def test_remarks_keep_author_and_time_and_the_latest_is_on_the_call(import_book, trader):
    import_book(one_stock_book())
    call = the_call()
    first = dt.datetime(2026, 12, 23, 11, tzinfo=HK)

    calls.add_remark(call, text="called client, no answer", user=trader, now=first)
    calls.add_remark(call, text="client will deposit", user=trader, now=first + dt.timedelta(hours=1))

    call.refresh_from_db()
    assert call.remark == "client will deposit"
    assert [(r.text, r.author, r.created_at) for r in call.remarks.all()] == [
        ("client will deposit", trader, first + dt.timedelta(hours=1)),
        ("called client, no answer", trader, first),
    ]


def test_auto_liquidation_at_the_deadline_moves_with_it_and_one_at_another_time_stays(import_book, trader):
    import_book(one_stock_book())
    call = the_call()
    MarginCall.objects.filter(pk=call.pk).update(auto_liquidate_at=call.deadline)
    later = at("2027-01-05T16:00:00+08:00")

    calls.move_deadline(the_call(), deadline=later, reason="agreed", user=trader)

    assert the_call().auto_liquidate_at == later
    assert AuditEntry.objects.get(action="move_deadline").detail["auto_liquidation"] == later.isoformat()
    other = at("2027-01-04T10:00:00+08:00")
    MarginCall.objects.filter(pk=call.pk).update(auto_liquidate_at=other)
    calls.move_deadline(the_call(), deadline=at("2027-01-06T16:00:00+08:00"), reason="again", user=trader)
    assert the_call().auto_liquidate_at == other


def test_moving_a_deadline_is_recorded_and_audited(import_book, trader):
    import_book(one_stock_book())
    call = the_call()
    new = at("2027-01-05T16:00:00+08:00")

    calls.move_deadline(call, deadline=new, reason="agreed with client", user=trader)

    call.refresh_from_db()
    assert call.deadline == new
    change = DeadlineChange.objects.get()
    assert (change.old_deadline, change.new_deadline, change.changed_by) == (
        at("2026-12-29T16:00:00+08:00"),
        new,
        trader,
    )
    entry = AuditEntry.objects.get(action="move_deadline")
    assert entry.user == trader
    assert entry.targets == [{"call": call.pk}]
    assert entry.detail["reason"] == "agreed with client"


def test_a_deadline_cannot_move_before_the_trigger_or_on_a_closed_call(import_book, trader):
    import_book(one_stock_book())
    call = the_call()
    with pytest.raises(calls.CallActionRefused):
        calls.move_deadline(call, deadline=call.triggered_at, reason="x", user=trader)
    later = at("2026-12-28T11:00:00+08:00")  # a trading day after the trigger, before the deadline
    with pytest.raises(calls.CallActionRefused, match=r"later than now \(2026-12-28 11:00\)"):
        calls.move_deadline(call, deadline=later - dt.timedelta(minutes=1), reason="x", user=trader, now=later)

    import_book(one_stock_book(as_of="2026-12-24T09:45:00+08:00", cash="-40000"))
    with pytest.raises(calls.CallActionRefused):
        calls.move_deadline(call, deadline=at("2027-01-05T16:00:00+08:00"), reason="x", user=trader)
    assert not DeadlineChange.objects.exists()


def test_a_deadline_may_move_nearer_but_not_into_the_past(import_book, trader):
    import_book(one_stock_book())
    call = the_call()
    now = at("2026-12-28T11:00:00+08:00")

    calls.move_deadline(call, deadline=now + dt.timedelta(minutes=1), reason="x", user=trader, now=now)

    call.refresh_from_db()
    assert call.deadline == now + dt.timedelta(minutes=1)


def test_snapshots_cannot_be_changed_or_deleted_by_the_application(import_book):
    import_book(one_stock_book())
    snapshot = CallSnapshot.objects.get()

    with pytest.raises(ImmutableRecord):
        snapshot.save()
    with pytest.raises(ImmutableRecord):
        snapshot.delete()


@pytest.mark.postgres
def test_postgres_refuses_to_update_or_delete_snapshots_and_audit_entries(import_book, trader):
    from django.db import DatabaseError

    import_book(one_stock_book())
    calls.add_remark(the_call(), text="x", user=trader)

    for queryset in (CallSnapshot.objects.all(), AuditEntry.objects.all()):
        with pytest.raises(DatabaseError, match="kept for compliance"), transaction.atomic():
            queryset.update(taken_at=None) if queryset.model is CallSnapshot else queryset.update(action="y")
        with pytest.raises(DatabaseError, match="kept for compliance"), transaction.atomic():
            queryset._raw_delete(queryset.db)
    assert CallSnapshot.objects.count() == 1


def test_daily_snapshot_once_per_trading_day_after_the_set_time(import_book):
    import_book(one_stock_book())

    assert daily_snapshots("2026-12-22T16:31:00+08:00") == {"margin": 0, "intraday": 0}  # before its trigger
    assert daily_snapshots("2026-12-23T16:00:00+08:00") == {}  # before 16:30: nothing yet
    assert daily_snapshots("2026-12-23T16:31:00+08:00") == {"margin": 1, "intraday": 0}
    assert daily_snapshots("2026-12-23T17:00:00+08:00") == {"margin": 0, "intraday": 0}  # once a day
    assert daily_snapshots("2026-12-25T17:00:00+08:00") == {}  # Christmas: no session
    assert list(the_call().snapshots.values_list("kind", "key")) == [
        ("trigger", "trigger"),
        ("daily", "daily:2026-12-23"),
    ]


def test_a_daily_snapshot_follows_the_prices_still_waiting_for_their_pass_first(import_book):
    import_book(one_stock_book(price="100"))  # T1: called, 100,000 of S.HK
    with transaction.atomic():  # S.HK ticks to 95; its pass is still to come
        assert ticks.apply_ticks([{"symbol": "S.HK", "price": "95", "time": "2026-12-23T11:00:00+08:00"}]).applied

    assert daily_snapshots("2026-12-23T16:31:00+08:00") == {"margin": 1, "intraday": 0}

    book = the_call().snapshots.get(kind="daily").book
    [position] = book["positions"]
    assert (position["price"], position["market_value"]) == ("95.000000", "95000.00")
    assert book["figures"]["long_mv"] == "95000.00"  # the figures of those prices, not of the last pass


def test_an_account_moved_to_the_other_call_kind_takes_its_open_call_along(import_book):
    import_book(one_stock_book(kind="margin"))
    call = the_call()
    assert call.kind == "margin"

    import_book(one_stock_book(kind="intraday"))

    call.refresh_from_db()
    assert (call.kind, call.closed_at) == ("intraday", None)  # the same call, on the intraday list now


def test_a_call_reopened_after_its_account_moved_to_the_other_call_kind_takes_that_kind(import_book):
    import_book(one_stock_book(kind="margin"))
    import_book(one_stock_book(kind="margin", price="150", as_of="2026-12-23T10:05:00+08:00"))  # the market closes it
    call = the_call()
    assert call.closed_at is not None

    import_book(one_stock_book(kind="intraday", as_of="2026-12-23T10:10:00+08:00"))  # called again: it reopens

    call.refresh_from_db()
    assert (call.closed_at, call.reopened_count, call.kind) == (None, 1, "intraday")


def test_the_lists_count_the_days_an_account_was_called_in_the_last_30(import_book, trader):
    from risk import selectors

    import_book(one_stock_book())  # called now: Wednesday 23 December, 10:00
    call = the_call()
    now = at("2026-12-23T12:00:00+08:00")

    def past_call(triggered, closed):
        values = {f.attname: getattr(call, f.attname) for f in MarginCall._meta.concrete_fields if f.name != "id"}
        values.update(
            status="closed",
            triggered_at=at(triggered),
            deadline=at(closed),
            closed_at=at(closed),
            close_cause="deposit",
        )
        return MarginCall.objects.create(**values)

    past_call("2026-12-10T15:00:00+08:00", "2026-12-12T09:30:00+08:00")  # 10, 11 and 12 December
    past_call("2026-11-01T10:00:00+08:00", "2026-11-20T10:00:00+08:00")  # before the 30 days: not counted

    assert selectors.days_called([call.account_id], now=now) == {call.account_id: 4}  # 3 days, and today
    [row] = selectors.with_row_values([call], now=now)
    assert row.days_called == 4
    desk = make_user("desk", "RiskWarningFull")
    html = client_for(desk).get(reverse("risk:warning")).content.decode()
    assert '<td class="num" data-testid="days-called">4</td>' in html


@pytest.mark.parametrize(
    ("deadline", "said"),
    [
        ("2027-01-09T10:00:00+08:00", "2027-01-09 is not an HKEX trading day: choose one (the next is 2027-01-11)."),
        ("2026-12-25T16:00:00+08:00", "2026-12-25 is not an HKEX trading day: choose one (the next is 2026-12-28)."),
        ("2027-01-05T16:01:00+08:00", "A deadline is at or before its day's HKEX close: 2027-01-05 16:00."),
        ("2026-12-31T13:00:00+08:00", "A deadline is at or before its day's HKEX close: 2026-12-31 12:00."),
        ("2027-01-08T18:30:00+00:00", "2027-01-09 is not an HKEX trading day: choose one (the next is 2027-01-11)."),
        ("2050-01-03T16:00:00+08:00", "HKEX sessions are known to 2049: choose an earlier day."),
    ],
)
def test_a_deadline_moves_only_to_a_trading_day_up_to_its_close(import_book, trader, deadline, said):
    import_book(one_stock_book())
    call = the_call()

    with pytest.raises(calls.CallActionRefused) as refused:
        calls.move_deadline(call, deadline=at(deadline), reason="agreed with client", user=trader)

    assert str(refused.value) == said
    assert not DeadlineChange.objects.exists()


def test_a_deadline_may_move_to_a_time_before_a_sessions_close(import_book, trader):
    import_book(one_stock_book())
    call = the_call()

    calls.move_deadline(call, deadline=at("2027-01-05T10:00:00+08:00"), reason="agreed with client", user=trader)

    call.refresh_from_db()
    assert call.deadline == at("2027-01-05T10:00:00+08:00")


def test_a_full_recompute_says_an_account_it_could_not_recompute_as_an_error(import_book, caplog):
    import logging

    from book.models import CashBalance
    from risk.tasks import recompute_all

    import_book(one_stock_book())
    CashBalance.objects.filter(account__account_no="T1").update(currency="JPY")  # no FX rate: not recomputed

    assert recompute_all()["failed"] == 1

    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == ["1 account(s) not recomputed: T1: no FX rate for currency 'JPY'"]
