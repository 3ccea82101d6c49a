"""Times from outside are checked before they are stored.

- Every stored time lies in ``[EARLIEST, END)``: the database refuses anything else (check
  constraints), and the model fields' validator says so in forms and the admin.
- A live feed (ticks, and any later feed) may not send a time more than ``FEED_MAX_AHEAD_SECONDS``
  ahead of this server's clock, nor before ``FEED_TIME_FLOOR``: a feed never stores a future time.
- A book file's ``as_of`` may replay a past statement or try a future scenario, within
  ``BOOK_AS_OF_WINDOW_DAYS`` of now either side.
- The trading calendar answers for every time these windows admit (a system check says so at start).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def validate_possible_time(value: dt.datetime | None) -> None:
    if value is not None and not (EARLIEST <= value < END):
        raise ValidationError(
            _("%(value)s is not a time this system keeps (from %(earliest)s to before %(end)s)."),
            params={"value": _as_given(value), "earliest": _in_utc(EARLIEST), "end": _in_utc(END)},
            code="impossible_time",
        )


# A day filter is asked of the stored time itself (not of its date, which no index serves), from the day's
# first moment in the console's time zone. Clamped past the times this system keeps (every stored time is
# within them), by more than a day in any zone, so a year-1 or year-9999 day is still a time the
# database compares, and a day before or after them all holds none.
FIRST_DAY = EARLIEST.date() - dt.timedelta(days=2)
LAST_DAY = END.date() + dt.timedelta(days=2)


def local_day_start(day: dt.date, *, days_after: int = 0) -> dt.datetime:
    """The first moment of ``day``, or of the day ``days_after`` it, in the console's time zone."""
    day = min(max(day, FIRST_DAY), LAST_DAY) + dt.timedelta(days=days_after)
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def on_local_day(field: str, day: dt.date) -> dict:
    """The lookups of a stored time on ``day`` in the console's time zone (as ``__date=day`` is)."""
    return {f"{field}__gte": local_day_start(day), f"{field}__lt": local_day_start(day, days_after=1)}


def is_possible_date(value: dt.date) -> bool:
    """A date within the times this system keeps."""
    return EARLIEST.date() <= value < END.date()


def validate_possible_date(value: dt.date | None) -> None:
    """A date of the book (an option's expiry) within the times this system keeps."""
    if value is not None and not is_possible_date(value):
        raise ValidationError(
            _("%(value)s is not a date this system keeps (from %(earliest)s to before %(end)s)."),
            params={"value": value.isoformat(), "earliest": EARLIEST.date(), "end": END.date()},
            code="impossible_date",
        )


def _as_given(moment: dt.datetime) -> str:
    """A time as it was given: its date and wall time, with its zone's name (a form's, Hong Kong) or its
    offset. Not converted: a year-1 time in Hong Kong would read with the zone's old local mean time
    offset (+07:36:42), a time no one typed."""
    offset = moment.utcoffset()
    if not offset:
        return _wall(moment) + " UTC"
    if isinstance(moment.tzinfo, ZoneInfo):
        given = f"{_wall(moment)} ({moment.tzinfo.key})"
    else:
        minutes = int(abs(offset).total_seconds()) // 60
        given = f"{_wall(moment)}{'-' if offset < dt.timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    try:  # and as the range it is checked against is said
        return f"{given}, {_in_utc(moment)}"
    except (OverflowError, ValueError):  # before year 1 or after 9999 in UTC
        return given


def _wall(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"


def _in_utc(moment: dt.datetime) -> str:
    """A time as the range it is checked against is said: in UTC."""
    return _wall(moment.astimezone(dt.UTC)) + " UTC"


def feed_floor() -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(settings.FEED_TIME_FLOOR), dt.time(), tzinfo=dt.UTC)


def feed_time_problem(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """Why a live feed's time is refused, or "" when it is fine."""
    now = now or timezone.now()
    ahead = (moment - now).total_seconds()
    if ahead > settings.FEED_MAX_AHEAD_SECONDS:
        return (
            f"is {_duration(ahead)} ahead of the server's clock ({now.isoformat(timespec='seconds')}); "
            f"a feed may be at most {settings.FEED_MAX_AHEAD_SECONDS:g} s ahead"
        )
    if moment < feed_floor():
        return f"is before {settings.FEED_TIME_FLOOR}, the earliest time a feed may send (FEED_TIME_FLOOR)"
    return ""


def as_stored(moment: dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """A reported time that orders nothing (when a delivery arrived) as it is stored: never ahead of
    this clock, though the reporter's clock may run ahead of it (up to ``FEED_MAX_AHEAD_SECONDS``).
    Prices and lending reports keep their time as sent: it orders them."""
    now = now or timezone.now()
    return min(moment, now)


def book_window(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    now = now or timezone.now()
    days = dt.timedelta(days=settings.BOOK_AS_OF_WINDOW_DAYS)
    return max(now - days, EARLIEST), min(now + days, END - dt.timedelta(microseconds=1))


def book_time_problem(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """Why a book file's ``as_of`` is refused, or "" when it is fine."""
    earliest, latest = book_window(now)
    if earliest <= moment <= latest:
        return ""
    return (
        f"must be within {settings.BOOK_AS_OF_WINDOW_DAYS} days of now, from "
        f"{timezone.localtime(earliest).isoformat(timespec='seconds')} to "
        f"{timezone.localtime(latest).isoformat(timespec='seconds')}; got {moment.isoformat()}"
    )


def _duration(seconds: float) -> str:
    if seconds < 3600:  # in seconds, as the allowance it is set against: "302 s", never "5 min"
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"
