"""HKEX trading sessions (exchange-calendars' XHKG) for margin-call deadlines.

A call's deadline is the close of the Nth session after its trigger. The session the trigger falls in
(or, for a trigger outside a session, the next session: before the open, after the close, on a
weekend or holiday) is the base; the deadline is the close of the Nth session after that base. Half
days close early, so a deadline on a half day is at its early close.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars
import exchange_calendars.errors
import pandas as pd

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
EXCHANGE = "XHKG"


CALENDAR = type(exchange_calendars.get_calendar(EXCHANGE))
# The years whose holidays exchange-calendars knows (XHKG: 1960 to 2049).
FIRST_YEAR, LAST_YEAR = CALENDAR.bound_min().year, CALENDAR.bound_max().year


class OutsideCalendar(ValueError):
    """A time the trading calendar cannot answer for (its holidays are not known that far)."""


@lru_cache(maxsize=16)
def _closes(first_year: int, last_year: int) -> pd.Series:
    """Session closes (UTC) of whole years; built explicitly so years past the default end work."""
    calendar = exchange_calendars.get_calendar(EXCHANGE, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    return calendar.closes.dt.tz_localize("UTC") if calendar.closes.dt.tz is None else calendar.closes


@lru_cache(maxsize=16)
def _opens(first_year: int, last_year: int) -> pd.Series:
    """Session opens (UTC), as :func:`_closes` (the same sessions, in the same order)."""
    calendar = exchange_calendars.get_calendar(EXCHANGE, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    return calendar.opens.dt.tz_localize("UTC") if calendar.opens.dt.tz is None else calendar.opens


def close_of_sessions_opening_after(moment: dt.datetime, sessions: int) -> dt.datetime:
    """The close of the ``sessions``-th HKEX session that opens after ``moment`` (1: the next session's
    close, whether ``moment`` is in a session, after its close, or on a holiday), in Hong Kong time."""
    if sessions < 1:
        raise ValueError("at least 1 session")
    timestamp = pd.Timestamp(moment).tz_convert("UTC")
    closes = _closes_around(timestamp, sessions)
    opens = _opens(timestamp.year - 1, min(LAST_YEAR, timestamp.year + 1 + sessions // 200))
    return _nth_close(closes, int(opens.searchsorted(timestamp, side="right")) + sessions - 1, moment)


def _closes_around(moment: pd.Timestamp, sessions: int) -> pd.Series:
    if not FIRST_YEAR < moment.year <= LAST_YEAR:
        raise OutsideCalendar(f"HKEX sessions are known from {FIRST_YEAR} to {LAST_YEAR}, not at {moment}")
    # Enough whole years around the moment for any sane number of sessions (about 245 a year).
    return _closes(moment.year - 1, min(LAST_YEAR, moment.year + 1 + sessions // 200))


def _nth_close(closes: pd.Series, index: int, moment) -> dt.datetime:
    if index >= len(closes):
        raise OutsideCalendar(f"HKEX sessions are known to {LAST_YEAR}: too far after {moment}")
    return closes.iloc[index].to_pydatetime().astimezone(HONG_KONG)


def call_deadline(triggered_at: dt.datetime, sessions: int) -> dt.datetime:
    """The close of the ``sessions``-th HKEX session after the trigger, in Hong Kong time."""
    if sessions < 1:
        raise ValueError("a deadline is at least 1 session after the trigger")
    if triggered_at.tzinfo is None:
        raise ValueError("the trigger time must carry its time zone")
    moment = pd.Timestamp(triggered_at).tz_convert("UTC")
    closes = _closes_around(moment, sessions)
    base = int(closes.searchsorted(moment, side="right"))
    return _nth_close(closes, base + sessions, triggered_at)


def sessions_after(moment: dt.datetime, sessions: int) -> dt.datetime:
    """The close of the ``sessions``-th session after the one that closes at or after ``moment`` (for a
    deadline, which is a close: that many sessions later)."""
    timestamp = pd.Timestamp(moment).tz_convert("UTC")
    closes = _closes_around(timestamp, sessions)
    return _nth_close(closes, int(closes.searchsorted(timestamp, side="left")) + sessions, moment)


def is_session(day: dt.date) -> bool:
    """Whether HKEX trades on this day."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return False
    closes = _closes(day.year, day.year)
    return closes.index.isin([pd.Timestamp(day)]).any()


def session_close(day: dt.date) -> dt.datetime | None:
    """The close of HKEX's session on this day, in Hong Kong time (a half day's early close); None on a
    day it does not trade."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    closes = _closes(day.year, day.year)
    label = pd.Timestamp(day)
    if label not in closes.index:
        return None
    return closes.loc[label].to_pydatetime().astimezone(HONG_KONG)


def next_session(day: dt.date) -> dt.date | None:
    """The first day on or after this one that HKEX trades (None past the calendar's last year)."""
    for year in range(max(day.year, FIRST_YEAR), LAST_YEAR + 1):
        labels = _closes(year, year).index
        later = labels[labels >= pd.Timestamp(day)]
        if len(later):
            return later[0].date()
    return None


@lru_cache(maxsize=4)
def _calendar(year: int):
    """The calendar of a year with the years either side: a minute after a year's last close, or before
    its first open, is a minute the calendar answers for (a year's own calendar ends at its last close)."""
    first, last = max(FIRST_YEAR, year - 1), min(LAST_YEAR, year + 1)
    return exchange_calendars.get_calendar(EXCHANGE, start=f"{first}-01-01", end=f"{last}-12-31")


def is_trading(moment: dt.datetime) -> bool:
    """Whether HKEX's continuous trading is on at this moment (in a session, outside its lunch break)."""
    if moment.tzinfo is None:
        raise ValueError("the moment must carry its time zone")
    timestamp = pd.Timestamp(moment).tz_convert("UTC").floor("min")
    if not FIRST_YEAR <= timestamp.year <= LAST_YEAR:
        return False
    try:
        return bool(_calendar(timestamp.year).is_open_on_minute(timestamp, ignore_breaks=False))
    except exchange_calendars.errors.MinuteOutOfBounds:  # past the calendar's very first or last session
        return False


def next_trading(moment: dt.datetime) -> dt.datetime | None:
    """The first minute of continuous trading at or after this moment (after a lunch break, a night or a
    holiday), in Hong Kong time; None past the years the calendar knows."""
    if moment.tzinfo is None:
        raise ValueError("the moment must carry its time zone")
    timestamp = pd.Timestamp(moment).tz_convert("UTC").ceil("min")
    if not FIRST_YEAR <= timestamp.year <= LAST_YEAR:
        return None
    try:
        found = _calendar(timestamp.year).minute_to_trading_minute(timestamp, direction="next")
    except exchange_calendars.errors.MinuteOutOfBounds:
        return None
    return found.to_pydatetime().astimezone(HONG_KONG)
