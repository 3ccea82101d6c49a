"""Run the beat schedule in this process: for the embedded default, which has no worker and no beat.

Each entry of ``CELERY_BEAT_SCHEDULE`` runs here, through its task's own code, when it is due (an
interval in seconds, as every entry of this project's schedule is). With a broker, run Celery's own
beat and worker instead (README)."""

import logging
import signal
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console import arguments

logger = logging.getLogger("margincall.beat")


def interval_of(name: str, schedule) -> float:
    if isinstance(schedule, int | float) and schedule > 0:
        return float(schedule)
    if isinstance(schedule, timedelta) and schedule.total_seconds() > 0:
        return schedule.total_seconds()
    raise CommandError(f"beat entry {name!r}: only intervals run in process (got {schedule!r})")


class Command(BaseCommand):
    help = "Run the beat schedule's tasks in this process when they are due (the embedded default)."

    def add_arguments(self, parser):
        arguments.add_several(parser, "--only", metavar="ENTRY", help="run only these entries", default=[])
        parser.add_argument(
            "--rounds",
            type=arguments.number(int, 0, 10**9),
            default=0,
            help="stop after this many rounds (0: run until stopped)",
        )

    def handle(self, *args, only, rounds, **options):
        schedule = settings.CELERY_BEAT_SCHEDULE
        unknown = sorted(set(only) - set(schedule))
        if unknown:
            raise CommandError(f"no beat entry {', '.join(unknown)} (entries: {', '.join(sorted(schedule))})")
        entries = {name: entry for name, entry in schedule.items() if not only or name in only}
        intervals = {name: interval_of(name, entry["schedule"]) for name, entry in entries.items()}
        current_app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery)
        unregistered = sorted({entry["task"] for entry in entries.values()} - set(current_app.tasks))
        if unregistered:
            raise CommandError(f"beat names tasks that do not exist: {', '.join(unregistered)}")
        tasks = {name: current_app.tasks[entry["task"]] for name, entry in entries.items()}
        due = dict.fromkeys(entries, time.monotonic())
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # not a line a second per entry
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"Running {', '.join(sorted(entries))} in this process. Ctrl-C to stop.")
        done = 0
        try:
            while not stopping and (not rounds or done < rounds):
                now = time.monotonic()
                for name in sorted(entries, key=due.get):
                    if due[name] > now:
                        continue
                    entry = entries[name]
                    try:
                        result = (
                            tasks[name]
                            .apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True)
                            .result
                        )
                    except Exception:  # one failing entry must not stop the others
                        logger.exception("beat entry %s failed", name)
                    else:
                        if result:  # said only when it did something
                            logger.info("%s: %s", name, result)
                    due[name] = max(now, due[name]) + intervals[name]
                done += 1
                if not rounds or done < rounds:
                    time.sleep(max(0.0, min(due.values()) - time.monotonic()))
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"Stopped after {done} rounds.")
