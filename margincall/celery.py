import logging
import os
import signal
import sys
import threading
import time

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    task_received,
    worker_init,
    worker_ready,
    worker_shutting_down,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")


def _settings_or_exit() -> None:
    """Started as Celery's command (a worker, beat): a setting that cannot be used stops it with one line
    naming it, as the server and manage.py do, not with a traceback from deep inside Celery."""
    program = sys.argv[0] if sys.argv else ""
    if os.path.basename(program) != "celery" and not program.endswith(os.path.join("celery", "__main__.py")):
        return
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 (reading it loads the settings)
    except ImproperlyConfigured as error:
        print(f"cannot start: a setting: {error}", file=sys.stderr)
        raise SystemExit(1) from None


_settings_or_exit()
app = Celery("margincall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def check_before_working(**kwargs) -> None:
    """A worker (and beat) checks its settings, reaches its database and finds it migrated before it takes
    or sends a task, as the server does: a bad setting stops it with a line that names it, instead of
    failing every task."""
    from margincall.serve import preflight

    try:
        problem = preflight()
    except Exception as error:  # Celery logs what a signal raises and starts anyway: only an exit stops it
        problem = f"{type(error).__name__}: {error}"
    if problem:
        if kwargs.get("signal") is beat_init:  # beat's own output is redirected, and lost, by then
            print(f"cannot start: {problem}", file=sys.__stderr__, flush=True)
        else:
            logging.getLogger("margincall.worker").error("cannot start: %s", problem)
        raise SystemExit(1)


# When this worker last received a task from the queue (its main process, which takes them), and
# whether it is shutting down (a warm shutdown takes nothing more, by design).
_received = {"at": time.monotonic()}
_stopping = {"yes": False}


@task_received.connect
def task_came(**kwargs) -> None:
    _received["at"] = time.monotonic()


@worker_shutting_down.connect
def shutting_down(**kwargs) -> None:
    _stopping["yes"] = True


def stalled(*, quiet_seconds: float, queued: int, busy: int, capacity: int, limit: float) -> bool:
    """A worker is stuck when it has received nothing for ``limit`` seconds while tasks wait on the
    queues it consumes and it has room to take them (fewer tasks running than its processes): beat's
    sweep alone sends it a task every 15 s. A worker whose processes are all busy is not stuck, however
    long its tasks run."""
    return limit > 0 and quiet_seconds >= limit and queued > 0 and busy < capacity


def queued_tasks(queues) -> int:
    """The tasks waiting on these queues in Redis (each with its priority lists, as kombu keeps them)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_TIMEOUTS)
    try:
        return sum(client.llen(key) for name in queues for key in [name, *(f"{name}\x06\x16{p}" for p in (3, 6, 9))])
    finally:
        client.close()


def consumed_queues(consumer) -> list[str]:
    """The queues the worker consumes now: none while an operator has cancelled them (a drain)."""
    task_consumer = getattr(consumer, "task_consumer", None)
    return sorted({queue.name for queue in getattr(task_consumer, "queues", None) or ()})


def watch(consumer, limit: float, every: float, capacity: int, exit_now=None) -> None:
    """Every ``every`` seconds: if this worker is stuck (:func:`stalled`) at two checks in a row, say so on
    the alerts logger and stop it, cold (SIGQUIT; at once if that has not ended it within 30 s), for its
    supervisor to start it again. A worker whose queue connection hung can stay alive taking nothing,
    which no restart policy sees. A worker shutting down, or consuming no queue, is left alone."""
    from celery.worker import state

    exit_now = exit_now or _exit_now
    strikes = 0
    while True:
        time.sleep(every)
        if _stopping["yes"] or state.should_stop or state.should_terminate:
            return
        queues = consumed_queues(consumer)
        busy = len(state.active_requests)  # before the quiet time: a task taken since counts as taken
        quiet = time.monotonic() - _received["at"]
        if not queues or quiet < limit:
            strikes = 0
            continue
        try:
            queued = queued_tasks(queues)
        except Exception:  # Redis away: nothing waits that this worker could take
            strikes = 0
            continue
        if not stalled(quiet_seconds=quiet, queued=queued, busy=busy, capacity=capacity, limit=limit):
            strikes = 0
            continue
        strikes += 1
        if strikes < 2 or _stopping["yes"]:
            continue
        logging.getLogger("margincall.alerts").critical(
            "worker: no task received for %d s while %d wait on its queue and %d of its %d processes are "
            "free: it is stuck (its queue connection, say), and stops so that its supervisor starts it again",
            quiet,
            queued,
            capacity - busy,
            capacity,
        )
        exit_now()
        return


def _exit_now() -> None:
    os.kill(os.getpid(), signal.SIGQUIT)
    time.sleep(30)
    os._exit(1)


@worker_ready.connect
def start_watch(sender=None, **kwargs) -> None:
    """With a queue (Redis), the worker watches that it keeps taking tasks (``WORKER_STALL_SECONDS``)."""
    from django.conf import settings

    limit = settings.WORKER_STALL_SECONDS
    if limit <= 0 or not settings.REDIS_URL:
        return
    capacity = getattr(getattr(sender, "pool", None), "num_processes", None) or 1
    _received["at"] = time.monotonic()
    every = max(1.0, min(30.0, limit / 4))
    threading.Thread(target=watch, args=(sender, limit, every, capacity), name="margincall-watch", daemon=True).start()


@after_setup_logger.connect
@after_setup_task_logger.connect
def console_log_format(logger, **kwargs) -> None:
    """The worker's and beat's lines (to the terminal or ``--logfile``) in the console's format: the time
    with its offset, the logger's name (``margincall.alerts`` told apart)."""
    from console.logs import LINE, Formatter

    for handler in logger.handlers:
        handler.setFormatter(Formatter(LINE))
    # "Task … succeeded in 0.0005s": twice a second for the exchange's turn alone. A failure is an
    # error, and still said.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


class Beat(PersistentScheduler):
    """Celery's scheduler, but while the task queue (Redis) is away it says so on the alerts logger as an
    outage (:class:`console.queue.Outage`: when it starts, every 5 minutes, when it is over), instead of a
    stack trace for every task due meanwhile. A task due while the queue is away is not sent: it runs at
    its next time (the sweeps take up what was missed)."""

    def __init__(self, *args, **kwargs):
        from console.queue import Outage

        self.outage = Outage(remind_seconds=300)
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        from console.queue import QUEUE_AWAY

        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as error:
            cause = error if isinstance(error, QUEUE_AWAY) else error.__cause__ or error.__context__
            if not isinstance(cause, QUEUE_AWAY):  # any other error: reported as Celery does
                logging.getLogger("celery.beat").error("Message Error: %s", error, exc_info=True)
                return
            self.outage.failed(
                "beat: the task queue is away (%s); %s and the tasks due are not sent until it is back",
                cause,
                entry.name,
            )
            return
        self.outage.over("beat: the task queue is back; %s sent", entry.name)
