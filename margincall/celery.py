import logging
import os
import sys

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import after_setup_logger, after_setup_task_logger, beat_init, worker_init

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
