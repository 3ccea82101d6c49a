"""One item of an upstream feed (price ticks, lending reports, delivery statuses): an object with known
keys, each value parsed with the book format's parsers, a time checked like every time from outside.
A problem is a :class:`~book.book_format.FieldError` that names the key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from . import times
from .book_format import DESCRIBED_LENGTH, FieldError, describe, parse_datetime, printable


def feed_object(item: Any, *, what: str, required: Sequence[str], optional: Sequence[str] = ()) -> dict:
    """``item`` if it is an object with every required key and no unknown one."""
    if not isinstance(item, dict):
        listed = f"{', '.join(required[:-1])} and {required[-1]}" if len(required) > 1 else required[0]
        raise FieldError(f"{what} must be an object with {listed}, got {describe(item)}")
    missing = sorted(set(required) - item.keys())
    if missing:
        raise FieldError(f"missing {', '.join(missing)}")
    unknown = sorted(item.keys() - {*required, *optional})
    if unknown:
        raise FieldError(f"unknown key {', '.join(repr(key[:DESCRIBED_LENGTH]) for key in unknown[:5])}")
    return item


def echoed(item: Any, key: str, length: int = DESCRIBED_LENGTH) -> str | None:
    """What a refused item gave for ``key``, as the answer repeats it: a string, printable and short."""
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    return printable(value[:length])


def feed_value(item: dict, key: str, parse: Callable[..., Any], **options) -> Any:
    """``parse(item[key], **options)``, its problem named after the key."""
    try:
        return parse(item[key], **options)
    except FieldError as error:
        raise FieldError(f"{key} {error}") from None


def feed_time(item: dict, key: str = "time") -> datetime:
    """An ISO 8601 time (no offset: Hong Kong time) that a live feed may send: not too far ahead of
    this clock, not before the floor."""
    moment = feed_value(item, key, parse_datetime)
    problem = times.feed_time_problem(moment)
    if problem:
        raise FieldError(f"{key} {problem}")
    return moment
