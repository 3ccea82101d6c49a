"""Margin-call deadlines on HKEX sessions (XHKG)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from book.trading_calendar import call_deadline

HK = ZoneInfo("Asia/Hong_Kong")


def hk(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HK)


@pytest.mark.parametrize(
    ("triggered", "deadline"),
    [
        # In a session: that session is the base; Christmas Eve is a half day, 25 and 26 are holidays.
        ("2026-12-23 10:00", "2026-12-29 16:00"),
        # After the close: counts from the next session.
        ("2026-12-23 16:30", "2026-12-30 16:00"),
        # Before the open of a trading day: that day's session is the base.
        ("2026-12-23 08:00", "2026-12-29 16:00"),
        # The deadline falls on the Christmas Eve half day: its early close.
        ("2026-12-21 10:00", "2026-12-24 12:00"),
        # On a Saturday: counts from Monday's session.
        ("2026-12-19 10:00", "2026-12-24 12:00"),
        # On Christmas Day: counts from the next session (28th); New Year's Eve is a half day.
        ("2026-12-25 11:00", "2026-12-31 12:00"),
        # In the lunch break: still that day's session.
        ("2026-12-22 12:30", "2026-12-28 16:00"),
    ],
)
def test_deadline_is_the_close_of_the_third_session_after_the_trigger(triggered, deadline):
    assert call_deadline(hk(triggered), 3) == hk(deadline)


def test_number_of_sessions_is_a_setting():
    assert call_deadline(hk("2026-12-23 10:00"), 1) == hk("2026-12-24 12:00")
    assert call_deadline(hk("2026-12-23 10:00"), 5) == hk("2026-12-31 12:00")


def test_dates_past_the_calendars_default_end_still_work():
    # Fri 1 June 2029 -> Mon 4, Tue 5, Wed 6 June.
    assert call_deadline(hk("2029-06-01 10:00"), 3) == hk("2029-06-06 16:00")


def test_a_trigger_in_utc_gives_the_same_deadline():
    assert call_deadline(dt.datetime(2026, 12, 23, 2, 0, tzinfo=dt.UTC), 3) == hk("2026-12-29 16:00")


def test_naive_trigger_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        call_deadline(dt.datetime(2026, 12, 23, 10), 3)


@pytest.mark.parametrize(
    ("moment", "trading"),
    [
        ("2026-12-31 11:59", True),  # New Year's Eve: a half day
        ("2026-12-31 12:00", False),  # after the year's last close
        ("2027-01-01 10:00", False),  # a holiday before the year's first open
        ("2027-01-04 09:29", False),
        ("2027-01-04 09:30", True),
        ("2049-12-31 23:59", False),  # past the calendar's last session
    ],
)
def test_continuous_trading_around_the_turn_of_a_year(moment, trading):
    from book.trading_calendar import is_trading

    assert is_trading(hk(moment)) is trading


@pytest.mark.parametrize(
    ("moment", "sessions", "close"),
    [
        ("2026-12-23 11:00", 1, "2026-12-24 12:00"),  # in a session: the next one (a half day)
        ("2026-12-23 17:00", 1, "2026-12-24 12:00"),  # after the close: the next session
        ("2026-12-23 08:00", 1, "2026-12-23 16:00"),  # before the open: that day's session is the next
        ("2026-11-20 17:00", 1, "2026-11-23 16:00"),  # a Friday evening: Monday's
        ("2026-12-24 13:00", 2, "2026-12-29 16:00"),  # Christmas: the 28th, then the 29th
    ],
)
def test_the_close_of_the_sessions_that_open_after_a_moment(moment, sessions, close):
    from book.trading_calendar import close_of_sessions_opening_after

    assert close_of_sessions_opening_after(hk(moment), sessions) == hk(close)
