"""Start-up checks of the settings that bound times from outside (``manage.py check`` runs them)."""

import datetime as dt

from django.conf import settings
from django.core.checks import Error, Warning, register

from . import times
from .trading_calendar import FIRST_YEAR, LAST_YEAR

# The most sessions a deadline can reach past its trigger: the rule sets' ceilings (250 + 250).
MAX_SESSIONS_AHEAD_DAYS = 2 * 366 * 2


@register("margincall")
def check_time_windows(app_configs, **kwargs):
    problems = []
    try:
        floor = dt.date.fromisoformat(settings.FEED_TIME_FLOOR)
    except (TypeError, ValueError):
        return [Error(f"FEED_TIME_FLOOR must be a date YYYY-MM-DD, got {settings.FEED_TIME_FLOOR!r}", id="risk.E001")]
    if floor < times.EARLIEST.date() or floor.year <= FIRST_YEAR:
        problems.append(
            Error(f"FEED_TIME_FLOOR {floor} is before {times.EARLIEST.date()}, the earliest time kept", id="risk.E002")
        )
    if settings.FEED_MAX_AHEAD_SECONDS < 0 or settings.FEED_MAX_AHEAD_SECONDS > 3600:
        problems.append(Error("FEED_MAX_AHEAD_SECONDS must be between 0 and 3600", id="risk.E003"))
    if not 1 <= settings.BOOK_AS_OF_WINDOW_DAYS <= 3660:
        problems.append(Error("BOOK_AS_OF_WINDOW_DAYS must be from 1 to 3660", id="risk.E004"))
        return problems
    _, latest = times.book_window()
    reach = latest + dt.timedelta(days=MAX_SESSIONS_AHEAD_DAYS)
    if reach.year > LAST_YEAR:
        problems.append(
            Warning(
                f"HKEX holidays are known to {LAST_YEAR}; a book dated as late as {latest.date()} could need a "
                f"deadline in {reach.year}. Upgrade exchange-calendars or shorten BOOK_AS_OF_WINDOW_DAYS.",
                id="risk.W001",
            )
        )
    return problems
