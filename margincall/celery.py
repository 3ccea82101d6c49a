import logging
import os
import sys
import time

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import after_setup_logger, after_setup_task_logger, worker_init

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
def check_before_working(**kwargs) -> None:
    """A worker checks its settings and reaches its database before it takes a task, as the server does:
    a bad setting stops it with a line that names it, instead of failing every task."""
    from margincall.serve import preflight

    try:
        problem = preflight()
    except Exception as error:  # Celery logs what a signal raises and starts anyway: only an exit stops it
        problem = f"{type(error).__name__}: {error}"
    if problem:
        logging.getLogger("margincall.worker").error("cannot start: %s", problem)
        raise SystemExit(1)


@after_setup_logger.connect
@after_setup_task_logger.connect
def console_log_format(logger, **kwargs) -> None:
    """The worker's and beat's lines (to the terminal or ``--logfile``) in the console's format: the time
    with its offset, the logger's name (``margincall.alerts`` told apart)."""
    from console.logs import Formatter

    for handler in logger.handlers:
        handler.setFormatter(Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))


class Beat(PersistentScheduler):
    """Celery's scheduler, but while the task queue (Redis) is away it says so once on the alerts logger,
    again every ``REMINDER_SECONDS`` with how long, and once when it is back, instead of a stack trace
    for every task due meanwhile. A task due while the queue is away is not sent: it runs at its next
    time (the sweeps take up what was missed)."""

    REMINDER_SECONDS = 300

    def __init__(self, *args, **kwargs):
        self.away_since: float | None = None
        self.reminded_at = 0.0
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        from console.queue import QUEUE_AWAY

        alerts = logging.getLogger("margincall.alerts")
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as error:
            cause = error if isinstance(error, QUEUE_AWAY) else error.__cause__ or error.__context__
            if not isinstance(cause, QUEUE_AWAY):  # any other error: reported as Celery does
                logging.getLogger("celery.beat").error("Message Error: %s", error, exc_info=True)
                return
            now = time.monotonic()
            if self.away_since is None:
                self.away_since = self.reminded_at = now
                alerts.error("beat: the task queue is away (%s); %s and the tasks due are not sent until it is back",
                             cause, entry.name)  # fmt: skip
            elif now - self.reminded_at >= self.REMINDER_SECONDS:
                self.reminded_at = now
                alerts.error("beat: the task queue is still away after %.0f s (%s)", now - self.away_since, cause)
            return
        if self.away_since is not None:
            alerts.warning("beat: the task queue is back after %.0f s; %s sent", time.monotonic() - self.away_since,
                           entry.name)  # fmt: skip
            self.away_since = None
