"""Automatic liquidation (liquidation/auto.py): each guard, and never twice for one setting."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from book.models import Instrument
from book.trading_calendar import HONG_KONG
from console.models import AuditEntry
from console.text import read
from liquidation import auto
from liquidation.models import LiquidationSwitch, Order
from risk.models import MarginCall, RuleSet
from tests.users import client_for

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
    return read(call.auto_liquidation_note)


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


@pytest.mark.parametrize(("automatic", "shown"), [(True, "開"), (False, "關")])
def test_the_switch_reads_on_or_off_in_chinese_not_as_an_object(automatic, shown):
    from django.utils import translation

    with translation.override("zh-hant"):
        assert str(LiquidationSwitch(automatic=automatic)) == shown


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
    assert note(call) == "2026-12-23 12:30 waiting: HKEX is not trading"
    # Written by the worker, read by each trader in their language: on the call's page and in the list.
    client = client_for(trader)
    for url in (reverse("risk:call", args=[call.pk]), reverse("risk:warning")):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
        assert "2026-12-23 12:30 等待中：港交所不在交易時段" in page
        assert "waiting: HKEX is not trading" not in page
    Instrument.objects.update(price_time=lunch + timedelta(minutes=39))
    assert auto.run(lunch + timedelta(minutes=40))["placed"] == 1  # retried at a later check


def test_never_on_a_stale_price(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))
    Instrument.objects.filter(symbol="A.HK").update(price_time=NOW - timedelta(minutes=6))

    assert auto.run(NOW)["skipped"] == 1
    assert "A.HK is older than 5 minutes" in note(call)
    assert not Order.objects.exists()


def test_a_stock_of_another_market_is_not_judged_by_hkexs_hours(call, trader):
    from book.models import FxRate

    FxRate.objects.update_or_create(currency="USD", defaults={"rate": "7.8"})
    # Quoted in USD, its last price is its own market's last session's, hours before HKEX's morning.
    Instrument.objects.filter(symbol="A.HK").update(currency="USD", price_time=NOW - timedelta(hours=8))
    set_at(call, trader, NOW - timedelta(minutes=1))

    assert auto.run(NOW)["placed"] == 1
    assert "A.HK" in Order.objects.values_list("instrument__symbol", flat=True)


@pytest.mark.parametrize("age", [None, timedelta(days=5)], ids=["no time", "five days old"])
def test_a_stock_of_another_market_its_market_has_not_traded_lately_is_not_traded_on(call, trader, age):
    from book.models import FxRate

    FxRate.objects.update_or_create(currency="USD", defaults={"rate": "7.8"})
    Instrument.objects.filter(symbol="A.HK").update(currency="USD", price_time=None if age is None else NOW - age)
    set_at(call, trader, NOW - timedelta(minutes=1))

    assert auto.run(NOW)["skipped"] == 1
    assert not Order.objects.exists()
    assert note(call) == "2026-12-23 11:30 skipped: the price of A.HK, of another market, is older than 4 days"


def test_not_an_exception_nor_a_closed_call(call, trader):
    set_at(call, trader, NOW - timedelta(minutes=1))
    MarginCall.objects.filter(pk=call.pk).update(status="exception")
    assert auto.run(NOW) == {"placed": 0, "skipped": 0, "done": 0}


@pytest.mark.parametrize("meanwhile", ["marked exception", "time cleared", "time moved later", "switched off"])
def test_a_call_a_trader_changes_while_the_run_goes_is_placed_as_it_is_then(call, trader, monkeypatch, meanwhile):
    from liquidation import services
    from risk import calls

    set_at(call, trader, NOW - timedelta(minutes=1))
    planned = services.plan_accounts

    def plan_then_change(accounts, **kwargs):  # the trader acts between the run's read and its orders
        plans = planned(accounts, **kwargs)
        if meanwhile == "marked exception":
            calls.mark_exception([call.pk], reason="the client is paying", user=trader)
        elif meanwhile == "switched off":  # by a risk admin
            LiquidationSwitch.objects.update_or_create(pk=1, defaults={"automatic": False})
        else:
            auto.set_time(
                user=trader, calls=[call], at=None if meanwhile == "time cleared" else NOW + timedelta(hours=1)
            )
        return plans

    monkeypatch.setattr(services, "plan_accounts", plan_then_change)

    assert auto.run(NOW)["skipped"] == 1
    assert not Order.objects.exists()
    if meanwhile == "marked exception":
        assert "the call was marked exception" in note(call)
    elif meanwhile == "switched off":
        assert note(call) == "2026-12-23 11:30 skipped: automatic liquidation is switched off"
    else:
        assert note(call) == ""  # the new setting's own run writes its note


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_while_the_run_goes_and_the_run_never_sell_the_plan_twice(import_book, worked_book, monkeypatch):
    import time

    from django.db.models import F

    from book.models import Position
    from liquidation import services
    from tests.liquidation.test_orders import run_together
    from tests.users import make_user

    import_book(worked_book)
    Instrument.objects.update(price_time=NOW - timedelta(minutes=1))
    trader = make_user("racer", "RiskWarningFull")
    call = MarginCall.objects.get(account__account_no="M100001")
    set_at(call, trader, NOW - timedelta(minutes=1))
    # Ten times the holdings: the plan takes a small part of them, so a second plan would still fit.
    Position.objects.filter(account=call.account).update(quantity=F("quantity") * 10)
    planned = services.plan_accounts

    def slow_plan(accounts, **kwargs):  # the run has read its plan; a batch comes in before it places
        plans = planned(accounts, **kwargs)
        time.sleep(0.5)
        return plans

    monkeypatch.setattr(auto.services, "plan_accounts", slow_plan)
    monkeypatch.setattr("django.conf.settings.LIQUIDATION_GATEWAY", "tests.liquidation.gateways.Holding")

    def batch():
        time.sleep(0.1)
        return services.liquidate_calls(user=trader, accounts=[call.account], key="race-batch")

    run, placed = run_together(lambda: auto.run(NOW), batch)

    assert not isinstance(run, Exception), run
    assert not isinstance(placed, Exception), placed
    sources = list(Order.objects.values_list("source", flat=True))
    assert len(set(sources)) == 1, sources  # one plan, placed once, by whichever came first


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


def test_a_page_drawn_before_another_trader_moved_the_deadline_sets_the_new_one(call, trader):
    from risk import calls

    drawn = MarginCall.objects.get(pk=call.pk)  # as the page read it
    later = datetime(2026, 12, 30, 16, 0, tzinfo=HONG_KONG)
    calls.move_deadline(call, deadline=later, reason="agreed with the client", user=trader)

    [changed] = auto.set_time(user=trader, calls=[drawn], at=None, at_deadline=True)

    call.refresh_from_db()
    assert call.auto_liquidate_at == changed.auto_liquidate_at == later
    assert call.deadline == later  # the move itself is kept


def test_a_call_closed_after_its_page_was_drawn_is_left_unset(call, trader):
    from risk import calls

    drawn = MarginCall.objects.get(pk=call.pk)
    calls.end_call(call.pk, reason="paid", user=trader)

    assert auto.set_time(user=trader, calls=[drawn], at=NOW + timedelta(minutes=5)) == []
    call.refresh_from_db()
    assert call.auto_liquidate_at is None


def test_an_admin_change_that_makes_calls_due_at_once_is_shown_first(call, time_machine):
    """Letting a rule set liquidate past the deadline, or turning the switch on, places orders at the
    next minute's check: the admin is shown which calls first, and nothing is saved until confirmed."""
    from django.contrib.auth.models import User

    from tests.risk.test_views import RULE_SET_FORM

    time_machine.move_to(call.deadline + timedelta(minutes=1))
    client = client_for(User.objects.create_superuser("root", password="pw"))
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])
    form = {**RULE_SET_FORM, "auto_liquidate_past_deadline": "on"}

    shown = client.post(url, form)
    html = shown.content.decode()
    assert shown.status_code == 200
    assert 'data-testid="admin-impact"' in html
    assert "liquidate 2 open calls by their plans (M100001, T2)" in html
    rule_set.refresh_from_db()
    assert not rule_set.auto_liquidate_past_deadline  # not saved yet
    token = shown.context["console_impact"]["token"]
    assert client.post(url, {**form, "_confirm_impact": token}).status_code == 302
    rule_set.refresh_from_db()
    assert rule_set.auto_liquidate_past_deadline

    # The switch: off, the call is not due; turning it on again is shown first too.
    switch, _created = LiquidationSwitch.objects.update_or_create(pk=1, defaults={"automatic": False})
    switch_url = reverse("admin:liquidation_liquidationswitch_change", args=[switch.pk])
    shown = client.post(switch_url, {"automatic": "on"})
    assert "liquidate 2 open calls by their plans (M100001, T2)" in shown.content.decode()
    assert not LiquidationSwitch.automatic_on()
    # Once its orders are placed, the call is done: turning the switch off and on again shows nothing.
    LiquidationSwitch.objects.filter(pk=1).update(automatic=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auto, "is_trading", lambda moment: True)
        Instrument.objects.update(price_time=timezone.now())
        assert auto.run(timezone.now())["placed"] == 2
    assert client.post(switch_url, {"automatic": "on"}).status_code == 302  # nothing more becomes due

    # Off is saved at once, with no preview to wait for (none would wait on a running recompute pass).
    class Waits:
        def before(self):
            raise AssertionError("a preview ran")

    from console import admin as console_admin

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(console_admin, "IMPACTS", [Waits()])
        assert client.post(switch_url, {}).status_code == 302
    assert not LiquidationSwitch.automatic_on()


def test_at_the_deadline_leaves_a_call_already_past_it(call, trader, time_machine):
    """ "At the deadline" on a call whose deadline has passed would liquidate it at the next minute:
    it is left as it is and named, as a time typed in the past is refused."""
    time_machine.move_to(call.deadline + timedelta(minutes=5))
    response = client_for(trader).post(
        reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto_deadline"}, follow=True
    )

    call.refresh_from_db()
    assert call.auto_liquidate_at is None
    html = response.content.decode()
    assert "1 call is past its deadline (M100001): left as it is." in html
    assert "Auto-liquidation set on" not in html  # nothing set: the warning alone says why
    assert AuditEntry.objects.get(action="set_auto_liquidation").detail["past_deadline"] == [call.pk]


def test_marking_an_exception_clears_the_auto_liquidation_time(call, trader):
    """Kept, the time would fire the moment the call is active again, however long ago it was."""
    from risk import calls

    set_at(call, trader, NOW + timedelta(minutes=5))
    response = client_for(trader).post(
        reverse("risk:exception-batch"),
        {"calls": [call.pk], "action": "mark", "reason": "client disputes"},
        follow=True,
    )
    assert "the auto-liquidation time of 1 call was cleared" in response.content.decode()
    call.refresh_from_db()
    assert (call.status, call.auto_liquidate_at) == ("exception", None)

    calls.unmark_exception([call.pk], user=trader)
    assert auto.run(NOW + timedelta(minutes=10))["placed"] == 0
    assert not Order.objects.exists()


def test_the_console_says_when_automatic_liquidation_is_switched_off(call, trader):
    LiquidationSwitch.objects.update_or_create(pk=1, defaults={"automatic": False})
    client = client_for(trader)

    details = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    risk_warning = client.get(reverse("risk:warning")).content.decode()
    response = client.post(
        reverse("liquidation:batch"),
        {"calls": [call.pk], "action": "auto", "at": (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )

    assert 'data-testid="automatic-off"' in details
    assert 'data-testid="automatic-off"' in risk_warning
    assert "Automatic liquidation is switched off by the risk admins: the time is kept" in response.content.decode()
    LiquidationSwitch.objects.filter(pk=1).update(automatic=True)
    assert 'data-testid="automatic-off"' not in client.get(reverse("risk:call", args=[call.pk])).content.decode()


def test_no_time_is_set_on_a_call_marked_exception(call, trader):
    from risk import calls

    calls.mark_exception([call.pk], reason="client disputes", user=trader)
    client = client_for(trader)

    response = client.post(
        reverse("liquidation:batch"),
        {"calls": [call.pk], "action": "auto", "at": "2026-12-23 15:00", "next": reverse("risk:warning")},
        follow=True,
    )

    call.refresh_from_db()
    assert call.auto_liquidate_at is None  # made active again, it would have been due by then
    said = [str(message) for message in response.context["messages"]]
    assert any("1 call is marked exception (M100001): no time is set on it" in text for text in said), said
    assert not any("has closed" in text or "set on 0" in text for text in said)  # the warning alone
    entry = AuditEntry.objects.filter(action="set_auto_liquidation").latest("pk")
    assert (entry.outcome, entry.detail["exception"]) == ("partly refused", [call.pk])
    page = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="auto-exception"' in page
    assert 'data-testid="set-auto"' not in page


def test_a_debit_call_is_not_warned_of_a_plan_after_its_deadline(call):
    """A debit call has no position to sell: a time after its deadline places nothing, so says nothing."""
    from django.utils import timezone

    from liquidation import auto

    later = call.deadline + timezone.timedelta(days=1)
    assert auto.after_deadline([call], later)[1] == [call]
    call.call_type = "debit"

    assert auto.after_deadline([call], later) == ([], [])


def test_a_call_past_its_deadline_is_not_warned_that_its_deadline_comes_first(call, time_machine):
    """Past its deadline, a time set is a time from now: nothing comes before it."""
    from django.utils import timezone

    from liquidation import auto

    time_machine.move_to(call.deadline + timezone.timedelta(hours=1))

    assert auto.after_deadline([call], call.deadline + timezone.timedelta(days=2)) == ([], [])


def test_while_the_switch_is_off_a_call_whose_rule_set_liquidates_past_the_deadline_is_said_to_stay_open(call):
    """Switched off, no plan goes past a deadline either: the call stays open until the time set (and
    the switch is on), as a call whose rule set waits for its time does."""
    from django.utils import timezone

    from liquidation import auto
    from risk.models import RuleSet

    RuleSet.objects.filter(account_kind=call.kind).update(auto_liquidate_past_deadline=True)
    later = call.deadline + timezone.timedelta(days=1)
    [(first, _when)], left = auto.after_deadline([call], later)
    assert (first, left) == (call, [])

    LiquidationSwitch.objects.update_or_create(pk=1, defaults={"automatic": False})

    assert auto.after_deadline([call], later) == ([], [call])
