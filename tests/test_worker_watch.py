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


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process needs a database it can share")
def test_a_real_worker_that_stops_taking_tasks_stops_itself(celery_runs_tasks_in_process):
    app = celery_runs_tasks_in_process
    app.conf.task_always_eager = False
    queue, node = f"watch-{secrets.token_hex(4)}", f"watch-{secrets.token_hex(4)}@test"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "WORKER_STALL_SECONDS": "4",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "margincall", "worker", "--pool", "solo", "-Q", queue, "-n", node],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not app.control.ping(destination=[node], timeout=1):
            assert worker.poll() is None, worker.stdout.read()
        # Alive, answering, but no longer taking tasks from its queue: what a hung queue connection leaves.
        assert app.control.cancel_consumer(queue, destination=[node], reply=True)
        for _ in range(3):
            app.send_task("risk.tasks.recompute_pending", queue=queue)

        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert "it is stuck (its queue connection, say), and stops so that its supervisor starts it again" in output
    assert "3 wait on its queue" in output
