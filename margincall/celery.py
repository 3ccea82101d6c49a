import logging
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")

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
