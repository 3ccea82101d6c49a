"""Ticks coalesce: prices that arrive while a recompute pass is queued or running wait for the next
pass, which recomputes the union of their holders once, from each stock's latest price."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from book import ticks
from book.models import Instrument, PendingRecompute
from risk import checks, services, tasks
from risk.models import AccountRisk
from tests.factories import AccountFactory, InstrumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_pass_queued():
    cache.delete(tasks.PASS_QUEUED)
    yield
    cache.delete(tasks.PASS_QUEUED)


def ticks_for(*prices, seconds_ago=5):
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    return [{"symbol": symbol, "price": price, "time": moment.isoformat()} for symbol, price in prices]


@pytest.fixture
def two_stocks():
    a, b = InstrumentFactory(symbol="A.HK"), InstrumentFactory(symbol="B.HK")
    holders = {
        "A": AccountFactory(book__cash="-60000", book__positions={a: 1000}),
        "B": AccountFactory(book__cash="-60000", book__positions={b: 1000}),
        "AB": AccountFactory(book__cash="-120000", book__positions={a: 1000, b: 1000}),
    }
    return a, b, holders


def equity(account):
    return AccountRisk.objects.get(account=account).equity


def test_ticks_that_arrive_while_a_pass_is_queued_wait_for_it_and_it_follows_their_latest_prices(
    two_stocks, monkeypatch, django_capture_on_commit_callbacks
):
    a, b, holders = two_stocks
    queued = []
    monkeypatch.setattr(tasks.recompute_pass, "delay", lambda: queued.append(1))
    passes = []
    real_follow = services.follow_prices
    monkeypatch.setattr(
        services,
        "follow_prices",
        lambda **kwargs: passes.append(sorted(kwargs["instrument_ids"])) or real_follow(**kwargs),
    )

    with django_capture_on_commit_callbacks(execute=True):
        ticks.apply_and_recompute(ticks_for(("A.HK", "95"), seconds_ago=6))
        ticks.apply_and_recompute(ticks_for(("A.HK", "90"), ("B.HK", "99"), seconds_ago=5))
        ticks.apply_and_recompute(ticks_for(("B.HK", "98"), seconds_ago=4))

    assert len(queued) == 1  # one pass queued for the three
    assert PendingRecompute.objects.count() == 2
    summary = tasks.recompute_pass()

    assert passes == [sorted([a.pk, b.pk])]  # one recompute for both stocks
    assert summary["instruments"] == 2
    assert summary["accounts"] == 3  # the union of the holders, each once
    assert equity(holders["A"]) == Decimal("30000.00")  # 1,000 x 90 - 60,000: the latest price of A
    assert equity(holders["B"]) == Decimal("38000.00")
    assert equity(holders["AB"]) == Decimal("68000.00")
    assert not PendingRecompute.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):  # the pass started: the next tick queues another
        ticks.apply_and_recompute(ticks_for(("A.HK", "91"), seconds_ago=3))
    assert len(queued) == 2


def test_a_pass_logs_its_lag_and_alerts_when_the_figures_are_stale(two_stocks, settings, caplog):
    a, _, _ = two_stocks
    Instrument.objects.filter(pk=a.pk).update(price=Decimal("95"))
    PendingRecompute.objects.create(instrument=a, since=timezone.now() - timedelta(seconds=8))
    settings.FIGURES_STALE_SECONDS = 5

    with caplog.at_level(logging.INFO):
        summary = tasks.recompute_pass()

    assert 8000 <= summary["lag_ms"] < 60_000
    record = next(r for r in caplog.records if "recompute pass" in r.getMessage())
    assert record.name == "margincall.alerts"
    assert record.levelno == logging.WARNING
    assert "1 price(s), 2 holder(s)" in record.getMessage()


def test_a_pass_with_nothing_waiting_does_nothing(caplog):
    with caplog.at_level(logging.INFO):
        assert tasks.recompute_pass()["instruments"] == 0
    assert not [r for r in caplog.records if "recompute pass" in r.getMessage()]


def test_a_pass_that_cannot_be_queued_leaves_the_prices_to_the_sweep(two_stocks, monkeypatch):
    def broker_away():
        raise ConnectionError("broker away")

    monkeypatch.setattr(tasks.recompute_pass, "delay", broker_away)
    with pytest.raises(ConnectionError):
        tasks.request_pass()
    assert cache.get(tasks.PASS_QUEUED) is None  # not left marked: the next price tries again


@pytest.mark.parametrize(
    ("work_mem", "queued", "problems"),
    [
        ("256MB", 10, []),
        ("64 MB", 0.5, []),
        ("1048576", 3600, []),
        ("lots", 10, ["risk.E010"]),
        ("256MB; DROP TABLE x", 10, ["risk.E010"]),
        ("0MB", 10, ["risk.E010"]),
        ("256MB", 0, ["risk.E011"]),
        ("256MB", float("nan"), ["risk.E011"]),
    ],
)
def test_the_recompute_settings_are_checked_at_start(settings, work_mem, queued, problems):
    settings.RECOMPUTE_WORK_MEM = work_mem
    settings.RECOMPUTE_PASS_QUEUED_SECONDS = queued
    assert [problem.id for problem in checks.check_recompute(None)] == problems


@pytest.mark.usefixtures("two_stocks")
def test_the_sweep_leaves_out_the_marks_a_pass_cleared_after_it_read_them(monkeypatch):
    monkeypatch.setattr(tasks.recompute_pass, "delay", lambda: None)
    ticks.apply_and_recompute(ticks_for(("A.HK", "61")))
    late = list(PendingRecompute.objects.all())  # what the sweep read
    assert services.follow_pending().instruments == 1  # a pass followed it meanwhile
    followed = []
    real_follow = services.follow_prices
    monkeypatch.setattr(services, "follow_prices", lambda **kwargs: followed.append(kwargs) or real_follow(**kwargs))
    assert services.follow_pending(marks=late).instruments == 0
    assert followed == []  # its holders are not recomputed again


def test_a_pass_that_loses_a_deadlock_runs_again_at_once_and_is_alerted_on_only_when_it_keeps_losing(
    two_stocks, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.db import OperationalError
    from psycopg import errors

    _a, _b, holders = two_stocks
    queued = []
    monkeypatch.setattr(tasks.recompute_pass, "delay", lambda: queued.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        ticks.apply_and_recompute(ticks_for(("A.HK", "40")))
    cache.delete(tasks.PASS_DEADLOCKS)
    real_follow, losing = services.follow_prices, [True]

    def deadlocked(**kwargs):
        if losing[0]:
            raise OperationalError("deadlock detected") from errors.DeadlockDetected("deadlock detected")
        return real_follow(**kwargs)

    monkeypatch.setattr(services, "follow_prices", deadlocked)

    def run_pass():
        queued.clear()
        caplog.clear()
        cache.delete(tasks.PASS_QUEUED)
        with caplog.at_level(logging.WARNING):
            return tasks.recompute_pass()

    def alerted():
        return [r for r in caplog.records if r.name == "margincall.alerts" and r.levelno >= logging.ERROR]

    for _loss in range(2):  # the first and second losses in a row: said, run again at once, not alerted
        assert run_pass() == {"instruments": 0, "deadlocked": True}
        assert queued == [1]
        assert "deadlocked with another writer" in caplog.text
        assert not alerted()
    with pytest.raises(OperationalError):  # the third in a row: alerted on, left to the sweep
        run_pass()
    assert alerted()
    assert queued == []

    losing[0] = False
    assert run_pass()["instruments"] == 1  # then it wins, and the count starts again
    assert equity(holders["A"]) == Decimal("-20000.00")
    assert not PendingRecompute.objects.exists()
    losing[0] = True
    with django_capture_on_commit_callbacks(execute=True):
        ticks.apply_and_recompute(ticks_for(("A.HK", "41"), seconds_ago=1))
    assert run_pass() == {"instruments": 0, "deadlocked": True}
    assert not alerted()


def test_deadlocks_are_counted_from_one_when_the_count_went_meanwhile_and_alerted_on_with_no_cache(monkeypatch):
    cache.set(tasks.PASS_DEADLOCKS, 1)

    def gone(key, delta=1):  # a pass committed between the add and the incr
        cache.delete(key)
        raise ValueError(f"Key '{key}' not found.")

    monkeypatch.setattr(cache, "incr", gone)
    assert tasks._deadlocks_in_a_row() == 1
    assert cache.get(tasks.PASS_DEADLOCKS) == 1

    def away(*args, **kwargs):
        raise ConnectionError("cache away")

    monkeypatch.setattr(cache, "add", away)
    assert tasks._deadlocks_in_a_row() == tasks.DEADLOCKS_ALERTED
    cache.delete(tasks.PASS_DEADLOCKS)
