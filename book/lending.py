"""Lendable quantities from the prime broker: ``POST /api/lending`` (:mod:`book.api`) as a list of
``{"symbol", "lendable", "time"}``, each item applied or refused alone, as the ticks API does. A report
older than the stored one is refused, so concurrent senders never move it backwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from . import times
from .book_format import (
    DESCRIBED_LENGTH,
    FieldError,
    parse_datetime,
    parse_integer,
    parse_text,
)
from .models import Instrument, InstrumentKind, LendingAvailability

MAX_ITEMS = 5000
MAX_LENDABLE = 2**63 - 1
KEYS = {"symbol", "lendable", "time"}


@dataclass(frozen=True)
class Report:
    symbol: str
    lendable: int
    time: datetime


def parse(item: Any) -> Report:
    if not isinstance(item, dict):
        raise FieldError(f"a report must be an object with symbol, lendable and time, got {type(item).__name__}")
    missing = sorted(KEYS - item.keys())
    if missing:
        raise FieldError(f"missing {', '.join(missing)}")
    unknown = sorted(item.keys() - KEYS)
    if unknown:
        raise FieldError(f"unknown key {', '.join(repr(key[:DESCRIBED_LENGTH]) for key in unknown[:5])}")
    try:
        symbol = parse_text(item["symbol"], max_length=32, required=True)
    except FieldError as error:
        raise FieldError(f"symbol {error}") from None
    try:
        lendable = parse_integer(item["lendable"], minimum=0, maximum=MAX_LENDABLE)
    except FieldError as error:
        raise FieldError(f"lendable {error}") from None
    try:
        time = parse_datetime(item["time"])
    except FieldError as error:
        raise FieldError(f"time {error}") from None
    problem = times.feed_time_problem(time)
    if problem:
        raise FieldError(f"time {problem}")
    return Report(symbol, lendable, time)


def apply(items: list) -> list[dict]:
    """Write each valid report; an outcome per item, in order."""
    outcomes = []
    for index, item in enumerate(items):
        echoed = item.get("symbol") if isinstance(item, dict) and isinstance(item.get("symbol"), str) else None
        try:
            report = parse(item)
        except FieldError as error:
            outcomes.append(_outcome(index, echoed, str(error)))
            continue
        instrument = Instrument.objects.filter(symbol=report.symbol).only("pk", "kind").first()
        if instrument is None:
            outcomes.append(_outcome(index, report.symbol, f"unknown symbol {report.symbol!r}"))
            continue
        if instrument.kind != InstrumentKind.STOCK:
            outcomes.append(_outcome(index, report.symbol, "only a stock is lent"))
            continue
        updated = LendingAvailability.objects.filter(Q(as_of__lte=report.time), instrument_id=instrument.pk).update(
            lendable=report.lendable, as_of=report.time
        )
        if not updated:
            _row, created = LendingAvailability.objects.get_or_create(
                instrument_id=instrument.pk, defaults={"lendable": report.lendable, "as_of": report.time}
            )
            if not created:
                stored = LendingAvailability.objects.get(instrument_id=instrument.pk).as_of
                outcomes.append(
                    _outcome(
                        index,
                        report.symbol,
                        f"older than the stored report (report {report.time.isoformat()}, stored {stored.isoformat()})",
                    )
                )
                continue
        outcomes.append(_outcome(index, report.symbol, ""))
    return outcomes


def _outcome(index: int, symbol: str | None, reason: str) -> dict:
    out = {
        "index": index,
        "symbol": (symbol or "")[:DESCRIBED_LENGTH] or None,
        "status": "refused" if reason else "applied",
    }
    if reason:
        out["reason"] = reason
    return out
