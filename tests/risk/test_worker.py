"""The recompute pipeline through a real Celery worker on the Redis broker (as in production)."""

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker

from book import ticks
from risk.models import MarginCall
from tests.books import one_stock_book

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run"),
]


def wait_for(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_tick_goes_through_the_broker_and_a_worker_closes_the_call(import_book, celery_runs_tasks_in_process):
    app = celery_runs_tasks_in_process
    app.conf.task_always_eager = False
    import_book(one_stock_book())
    app.control.purge()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = ticks.apply_and_recompute([{"symbol": "S.HK", "price": "120", "time": "2026-12-23T11:00:00+08:00"}])
        assert result.applied == 1
        assert wait_for(lambda: MarginCall.objects.filter(status="closed").exists())

    call = MarginCall.objects.get()
    assert call.close_cause == "market"
    assert call.snapshots.filter(kind="close").count() == 1
