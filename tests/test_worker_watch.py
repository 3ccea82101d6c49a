"""A worker that stays alive but takes no task (its queue connection hung, say) stops itself, for its
supervisor to start it again (margincall/celery.py, WORKER_STALL_SECONDS)."""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from margincall.celery import stalled

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("quiet", "queued", "busy", "capacity", "limit", "stuck"),
    [
        (200, 5, 0, 2, 180, True),  # nothing taken for long, tasks waiting, room to take them
        (200, 5, 1, 2, 180, True),  # one process held (an ack that never came back), the other idle
        (100, 5, 0, 2, 180, False),  # not long enough
        (200, 0, 0, 2, 180, False),  # nothing waits: an idle worker (or beat away) is not stuck
        (200, 5, 2, 2, 180, False),  # every process busy: long tasks, not a stuck worker
        (200, 5, 0, 2, 0, False),  # the watch is off
    ],
)
def test_a_worker_is_stuck_only_when_it_takes_nothing_it_could(quiet, queued, busy, capacity, limit, stuck):
    assert stalled(quiet_seconds=quiet, queued=queued, busy=busy, capacity=capacity, limit=limit) is stuck


def start(module: str, queue: str, node: str, stall_seconds: int) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "WORKER_STALL_SECONDS": str(stall_seconds),
    }
    return subprocess.Popen(
        [sys.executable, "-m", module, "-A", "margincall", "worker", "--pool", "solo", "-Q", queue, "-n", node],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_up(app, worker, node):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not app.control.ping(destination=[node], timeout=1):
        assert worker.poll() is None, worker.stdout.read()


def stopped(worker) -> None:
    if worker.poll() is None:
        worker.kill()
        worker.wait()


@pytest.fixture
def own_queue(celery_runs_tasks_in_process):
    """The Celery app sending for real, and a queue and a worker name of the test's own."""
    app = celery_runs_tasks_in_process
    app.conf.task_always_eager = False
    return app, f"watch-{secrets.token_hex(4)}", f"watch-{secrets.token_hex(4)}@test"


def queue_tasks(app, queue: str, count: int) -> None:
    for _ in range(count):
        app.send_task("risk.tasks.recompute_pending", queue=queue)


def real_worker(test):
    """A test of a worker process of its own: on PostgreSQL (a database it can share) and Redis."""
    for mark in (
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run"),
        pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process needs a database it can share"),
    ):
        test = mark(test)
    return test


class Consumer:
    class task_consumer:  # Celery names it so
        queues = [type("Queue", (), {"name": "celery"})()]


@pytest.mark.parametrize("stopping", [False, True])
def test_the_watch_stops_a_stuck_worker_at_its_second_stuck_check_and_never_one_shutting_down(monkeypatch, stopping):
    from margincall import celery

    checks, stopped_by = [], []
    monkeypatch.setattr(celery, "queued_tasks", lambda queues: checks.append(queues) or 3)
    monkeypatch.setitem(celery._received, "at", time.monotonic() - 100)
    monkeypatch.setitem(celery._stopping, "yes", stopping)

    celery.watch(Consumer(), limit=10, every=0.01, capacity=1, exit_now=lambda: stopped_by.append("watch"))

    if stopping:  # a warm shutdown takes nothing more, by design: not stuck
        assert (checks, stopped_by) == ([], [])
    else:
        assert (checks, stopped_by) == ([["celery"], ["celery"]], ["watch"])


@real_worker
def test_a_real_worker_whose_queue_connection_takes_nothing_stops_itself(own_queue):
    app, queue, node = own_queue
    worker = start("tests.stuck_worker", queue, node, stall_seconds=4)
    try:
        wait_until_up(app, worker, node)  # alive and answering, but its consumer never asks for a task
        queue_tasks(app, queue, 3)
        output, _ = worker.communicate(timeout=60)
    finally:
        stopped(worker)

    assert "it is stuck (its queue connection, say), and stops so that its supervisor starts it again" in output
    assert "3 wait on its queue" in output


@real_worker
def test_a_worker_drained_by_an_operator_is_left_alone(own_queue):
    app, queue, node = own_queue
    worker = start("celery", queue, node, stall_seconds=2)
    try:
        wait_until_up(app, worker, node)
        assert app.control.cancel_consumer(queue, destination=[node], reply=True)  # a drain: consume nothing
        queue_tasks(app, queue, 3)
        time.sleep(8)  # four times the stall time
        assert worker.poll() is None
        assert app.control.ping(destination=[node], timeout=2)
    finally:
        app.control.shutdown(destination=[node])
        try:
            output, _ = worker.communicate(timeout=30)
        finally:
            stopped(worker)
    assert "is stuck" not in output
