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
import pandas as pd

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
EXCHANGE = "XHKG"


@lru_cache(maxsize=16)
def _closes(first_year: int, last_year: int) -> pd.Series:
    """Session closes (UTC) of whole years; built explicitly so years past the default end work."""
    calendar = exchange_calendars.get_calendar(EXCHANGE, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    return calendar.closes.dt.tz_localize("UTC") if calendar.closes.dt.tz is None else calendar.closes


def call_deadline(triggered_at: dt.datetime, sessions: int) -> dt.datetime:
    """The close of the ``sessions``-th HKEX session after the trigger, in Hong Kong time."""
    if sessions < 1:
        raise ValueError("a deadline is at least 1 session after the trigger")
    if triggered_at.tzinfo is None:
        raise ValueError("the trigger time must carry its time zone")
    moment = pd.Timestamp(triggered_at).tz_convert("UTC")
    # Enough whole years around the trigger for any sane number of sessions (about 245 a year).
    last_year = moment.year + 1 + sessions // 200
    closes = _closes(moment.year - 1, last_year)
    base = int(closes.searchsorted(moment, side="right"))
    return closes.iloc[base + sessions].to_pydatetime().astimezone(HONG_KONG)


def is_session(day: dt.date) -> bool:
    """Whether HKEX trades on this day."""
    closes = _closes(day.year, day.year)
    return closes.index.isin([pd.Timestamp(day)]).any()
