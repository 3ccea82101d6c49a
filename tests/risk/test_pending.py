"""A price is never committed without its recompute: the price is marked pending in its own
transaction, the recompute clears the mark, a failure is retried and alerted on, and the sweep takes
up what a dead worker left."""

import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.utils import timezone

from book import pending, ticks
from book.models import Instrument, PendingRecompute
from risk import services, tasks
from risk.models import AccountRisk, MarginCall
from tests.books import one_stock_book
from tests.risk.waiting import wait_for, waiting_on_the_lock

pytestmark = pytest.mark.django_db


def tick(price, *, seconds_ago=5):
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    return [{"symbol": "S.HK", "price": price, "time": moment.isoformat()}]


def equity():
    return AccountRisk.objects.get(account__account_no="T1").equity


@pytest.fixture
def book(import_book):
    import_book(one_stock_book(as_of=(timezone.now() - timedelta(hours=1)).isoformat()))
    assert equity() == Decimal("40000.00")


def test_a_price_is_pending_from_its_commit_until_its_recompute_runs(book, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ticks.apply_and_recompute(tick("95"))

    mark = PendingRecompute.objects.get()
    assert mark.instrument.symbol == "S.HK"
    assert equity() == Decimal("40000.00")  # the price is stored, the figures have not followed yet

    for callback in queued:
        callback()

    assert equity() == Decimal("35000.00")
    assert not PendingRecompute.objects.exists()


def test_a_newer_price_during_a_recompute_keeps_its_mark(book):
    instrument = Instrument.objects.get()
    pending.mark([instrument.pk], now=timezone.now())
    seen = pending.versions([instrument.pk])
    pending.mark([instrument.pk], now=timezone.now())  # a price stored while the recompute ran

    read_at = timezone.now()
    assert pending.clear(seen, read_at=read_at) == 0
    mark = PendingRecompute.objects.get()
    assert mark.version == 2
    # The figures lag only from the newer price on: the mark's age restarts, so a busy stock whose
    # every recompute overlaps a tick is not reported as ever further behind.
    assert mark.since == read_at
    assert pending.clear(pending.versions([instrument.pk]), read_at=timezone.now()) == 1


def test_a_price_whose_holders_could_not_be_recomputed_stays_pending_and_is_alerted_on(
    book, caplog, django_capture_on_commit_callbacks
):
    from book.models import Account, CashBalance

    account = Account.objects.get(account_no="T1")
    CashBalance.objects.create(account=account, currency="EUR", amount=Decimal("1"))  # no EUR rate anywhere
    with (
        caplog.at_level(logging.ERROR, logger="margincall.alerts"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticks.apply_and_recompute(tick("95"))

    mark = PendingRecompute.objects.get()
    assert mark.attempts == 1
    assert "T1" in mark.last_error
    assert "holder(s) not recomputed" in caplog.records[-1].getMessage()


def test_a_failing_recompute_is_alerted_on_and_left_for_the_sweep(
    book, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(services, "recompute_accounts", broken)
    with (
        caplog.at_level(logging.ERROR, logger="margincall.alerts"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = ticks.apply_and_recompute(tick("95"))

    assert result.applied == 1  # the sender is told its price is stored, and is not failed
    mark = PendingRecompute.objects.get()
    assert mark.attempts == 1
    assert "database went away" in mark.last_error
    assert "failed (attempt 1)" in caplog.records[0].getMessage()
    assert equity() == Decimal("40000.00")

    monkeypatch.undo()
    PendingRecompute.objects.update(since=timezone.now() - timedelta(minutes=5))
    with caplog.at_level(logging.ERROR, logger="margincall.alerts"):
        swept = tasks.recompute_pending()

    assert swept["instruments"] == 1
    assert equity() == Decimal("35000.00")
    assert not PendingRecompute.objects.exists()
    assert "the holders of S.HK (instrument " in caplog.records[-1].getMessage()
    assert "have not followed its price for" in caplog.records[-1].getMessage()


def test_a_worker_retries_a_failing_recompute_later_and_later_then_leaves_it_to_the_sweep(book, monkeypatch):
    monkeypatch.setattr(services, "recompute_accounts", lambda **kwargs: 1 / 0)
    instrument = Instrument.objects.get()
    pending.mark([instrument.pk], now=timezone.now())

    delays = []
    for attempt in range(tasks.RETRIES):
        with pytest.raises(Retry) as retry:
            tasks.recompute_instruments.apply(args=[[instrument.pk]], retries=attempt, throw=True)
        delays.append(retry.value.when)
    assert delays == [1, 2, 4, 8, 16]
    with pytest.raises(ZeroDivisionError):
        tasks.recompute_instruments.apply(args=[[instrument.pk]], retries=tasks.RETRIES, throw=True)
    assert PendingRecompute.objects.get().attempts == tasks.RETRIES + 1


def test_the_sweep_leaves_marks_younger_than_its_grace(book, settings):
    settings.PENDING_GRACE_SECONDS = 60
    pending.mark([Instrument.objects.get().pk], now=timezone.now())

    assert tasks.recompute_pending() == {"instruments": 0}
    assert PendingRecompute.objects.exists()


def test_a_call_is_never_triggered_after_now(book, django_capture_on_commit_callbacks):
    ahead = timezone.now() + timedelta(seconds=30)  # a sender's clock a little fast
    with django_capture_on_commit_callbacks(execute=True):
        ticks.apply_and_recompute([{"symbol": "S.HK", "price": "90", "time": ahead.isoformat()}])

    call = MarginCall.objects.get()
    assert call.call_type == "force_call"
    assert call.triggered_at <= timezone.now()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run")
def test_a_worker_killed_between_the_price_and_its_recompute_leaves_it_to_the_sweep(
    import_book, celery_runs_tasks_in_process
):
    import_book(one_stock_book(as_of=(timezone.now() - timedelta(hours=1)).isoformat()))
    app = celery_runs_tasks_in_process
    app.conf.task_always_eager = False
    app.control.purge()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}  # the worker on the test database
    # Hold the recompute lock, so the worker's recompute waits inside its transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [services.RECOMPUTE_LOCK_KEY])
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "margincall", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ticks.apply_and_recompute(tick("95"))  # committed (autocommit): price, mark, then the task queued
        assert wait_for(waiting_on_the_lock, seconds=60), "the worker never reached the recompute"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [services.RECOMPUTE_LOCK_KEY])
        app.control.purge()

    assert Instrument.objects.get().price == Decimal("95")
    assert equity() == Decimal("40000.00")  # the worker died: the figures did not follow
    assert PendingRecompute.objects.exists()

    PendingRecompute.objects.update(since=timezone.now() - timedelta(minutes=1))
    app.conf.task_always_eager = True
    tasks.recompute_pending.delay()

    assert equity() == Decimal("35000.00")
    assert not PendingRecompute.objects.exists()


def test_ticks_while_the_task_queue_is_away_keep_their_marks_and_say_so_once(
    book, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from console.queue import Outage
    from risk import receivers

    tried = []

    def away():
        tried.append(1)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks, "request_pass", away)
    monkeypatch.setattr(receivers, "queue_away", Outage(remind_seconds=30))
    with caplog.at_level(logging.WARNING):
        for price in ("95", "96", "97"):
            with django_capture_on_commit_callbacks(execute=True):
                ticks.apply_and_recompute(tick(price))

    said = [record for record in caplog.records if record.name in ("risk.receivers", "margincall.alerts")]
    assert [(record.name, record.levelname, record.exc_info) for record in said] == [
        ("margincall.alerts", "ERROR", None)
    ]
    assert "recompute passes cannot be queued (OperationalError: Error 111" in said[0].getMessage()
    assert PendingRecompute.objects.count() == 1  # the price waits for the sweep, marked
    # A queue that hangs costs each try its timeout: the ticks after a failure do not try for a while.
    assert len(tried) == 1
    monkeypatch.setattr(receivers, "QUEUE_RETRY_SECONDS", 0)
    with django_capture_on_commit_callbacks(execute=True):
        ticks.apply_and_recompute(tick("98"))
    assert len(tried) == 2
