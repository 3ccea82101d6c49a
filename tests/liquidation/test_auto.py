"""Automatic liquidation (liquidation/auto.py): each guard, and never twice for one setting."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from book.models import Instrument
from book.trading_calendar import HONG_KONG
from liquidation import auto
from liquidation.models import LiquidationSwitch, Order
from risk.models import MarginCall, RuleSet

NOW = datetime(2026, 12, 23, 11, 30, tzinfo=HONG_KONG)  # a Wednesday, in continuous trading


@pytest.fixture
def call(book):
    call = MarginCall.objects.get(account__account_no="M100001")
    Instrument.objects.update(price_time=NOW - timedelta(minutes=1))
    return call


def set_at(call, trader, moment):
    auto.set_time(user=trader, calls=[call], at=moment)
    call.refresh_from_db()


def note(call):
    call.refresh_from_db()
    return call.auto_liquidation_note


def test_at_its_time_the_plan_is_placed_once(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))

    assert auto.run(NOW)["placed"] == 1
    assert sorted(Order.objects.values_list("instrument__symbol", "source")) == [("A.HK", "auto"), ("B.HK", "auto")]
    assert "placed 2 orders" in note(call)
    assert auto.run(NOW + timedelta(minutes=1)) == {"placed": 0, "skipped": 0, "done": 1}  # never twice
    assert Order.objects.count() == 2


def test_not_before_its_time(call, trader):
    set_at(call, trader, NOW + timedelta(minutes=5))
    assert auto.run(NOW) == {"placed": 0, "skipped": 0, "done": 0}
    assert not Order.objects.exists()


def test_the_kill_switch_stops_it_and_says_so(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))
    LiquidationSwitch.objects.update_or_create(pk=1, defaults={"automatic": False})

    assert auto.run(NOW)["skipped"] == 1
    assert "switched off" in note(call)
    assert not Order.objects.exists()


def test_only_in_trading_minutes(call, trader, settings):
    settings.AUTO_LIQUIDATION_ANY_TIME = False
    lunch = datetime(2026, 12, 23, 12, 30, tzinfo=HONG_KONG)
    set_at(call, trader, lunch - timedelta(minutes=1))
    Instrument.objects.update(price_time=lunch)

    assert auto.run(lunch)["skipped"] == 1
    assert "not trading" in note(call)
    Instrument.objects.update(price_time=lunch + timedelta(minutes=39))
    assert auto.run(lunch + timedelta(minutes=40))["placed"] == 1  # retried at a later check


def test_never_on_a_stale_price(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))
    Instrument.objects.filter(symbol="A.HK").update(price_time=NOW - timedelta(minutes=6))

    assert auto.run(NOW)["skipped"] == 1
    assert "A.HK is older than 5 minutes" in note(call)
    assert not Order.objects.exists()


def test_not_an_exception_nor_a_closed_call(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))
    MarginCall.objects.filter(pk=call.pk).update(status="exception")
    assert auto.run(NOW) == {"placed": 0, "skipped": 0, "done": 0}


def test_past_the_deadline_only_when_the_rule_set_says_so(call):
    after_deadline = call.deadline + timedelta(minutes=1)
    Instrument.objects.update(price_time=after_deadline)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auto, "is_trading", lambda moment: True)
        assert auto.run(after_deadline)["placed"] == 0
        RuleSet.objects.filter(account_kind="margin").update(auto_liquidate_past_deadline=True)
        assert auto.run(after_deadline)["placed"] >= 1
    assert Order.objects.filter(account=call.account, source="auto").count() == 2


def test_a_new_setting_runs_again(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=2))
    auto.run(NOW)
    Order.objects.update(status="cancelled")
    set_at(call, trader, NOW - timedelta(minutes=1))
    assert auto.run(NOW)["placed"] == 1


def test_setting_is_audited(call, trader):
    from console.models import AuditEntry

    auto.set_time(user=trader, calls=[call], at=None, at_deadline=True)
    call.refresh_from_db()
    assert call.auto_liquidate_at == call.deadline
    entry = AuditEntry.objects.get(action="set_auto_liquidation")
    assert entry.targets == [{"call": call.pk}]
    assert entry.detail == {"at": "deadline", "changed": [call.pk]}
    assert timezone.is_aware(call.auto_liquidate_at)


def test_a_closed_call_is_left_as_it_is_and_the_desk_told(call, trader):
    from console.models import AuditEntry
    from risk import calls
    from tests.users import client_for

    calls.end_call(call.pk, reason="paid", user=trader)
    data = {"calls": [call.pk], "action": "auto_deadline"}

    response = client_for(trader).post(reverse("liquidation:batch"), data, follow=True)

    assert "1 call has closed: left as it is." in response.content.decode()
    call.refresh_from_db()
    assert call.auto_liquidate_at is None
    entry = AuditEntry.objects.get(action="set_auto_liquidation")
    assert (entry.outcome, entry.targets, entry.detail["closed"]) == ("partly refused", [{"call": call.pk}], [call.pk])
