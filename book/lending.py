"""Lendable quantities from the prime broker: ``POST /api/lending`` (:mod:`book.api`) as a list of
``{"symbol", "lendable", "time"}``, each item applied or refused alone, as the ticks API does. A report
older than the stored one is refused, so concurrent senders never move it backwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from .book_format import (
    DESCRIBED_LENGTH,
    FieldError,
    parse_integer,
    parse_text,
)
from .feeds import echoed, feed_object, feed_time, feed_value
from .models import Instrument, InstrumentKind, LendingAvailability

MAX_ITEMS = 5000
MAX_LENDABLE = 2**63 - 1


@dataclass(frozen=True)
class Report:
    symbol: str
    lendable: int
    time: datetime


def parse(item: Any) -> Report:
    item = feed_object(item, what="a report", required=("symbol", "lendable", "time"))
    symbol = feed_value(item, "symbol", parse_text, max_length=32, required=True)
    lendable = feed_value(item, "lendable", parse_integer, minimum=0, maximum=MAX_LENDABLE)
    time = feed_time(item)
    return Report(symbol, lendable, time)


def apply(items: list) -> list[dict]:
    """Write each valid report; an outcome per item, in order."""
    outcomes = []
    for index, item in enumerate(items):
        try:
            report = parse(item)
        except FieldError as error:
            outcomes.append(_outcome(index, echoed(item, "symbol"), str(error)))
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
