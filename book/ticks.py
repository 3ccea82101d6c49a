"""Prices in: a list of ticks ``{"symbol", "price", "time"}``, each applied or refused with its reason.

A tick is applied when its instrument exists, its price is a positive number that fits storage, its
time is ISO 8601 (no offset means Hong Kong time), and it is not older than the stored price. The
price is written at once; the holders are recomputed by the next recompute pass (``risk.tasks.recompute_pass``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console.locks import atomic_again

from . import models as m
from . import pending
from .book_format import (
    FieldError,
    describe,
    parse_decimal,
    parse_text,
)
from .feeds import echoed, feed_object, feed_time, feed_value
from .models import Instrument
from .signals import prices_changed

logger = logging.getLogger(__name__)

MAX_TICKS = 10_000
SYMBOL_LENGTH = 32  # Instrument.symbol


@dataclass(frozen=True)
class Tick:
    symbol: str
    price: Decimal
    time: datetime


@dataclass
class TickOutcome:
    index: int
    symbol: Any
    applied: bool
    reason: str = ""

    def as_dict(self) -> dict:
        out = {"index": self.index, "symbol": self.symbol, "status": "applied" if self.applied else "refused"}
        if self.reason:
            out["reason"] = self.reason
        return out


def parse_tick(item: Any) -> Tick:
    """One tick, or FieldError naming what is wrong with it."""
    item = feed_object(item, what="a tick", required=("symbol", "price", "time"))
    symbol = feed_value(item, "symbol", parse_text, max_length=SYMBOL_LENGTH, required=True)
    price = feed_value(
        item, "price", parse_decimal, digits=m.PRICE_DIGITS, places=m.PRICE_PLACES, maximum=m.PRICE_LIMIT
    )
    if price <= 0:
        raise FieldError(f"price must be a positive number, got {describe(item['price'])}")
    time = feed_time(item)
    return Tick(symbol, price, time)


@dataclass
class TicksResult:
    outcomes: list[TickOutcome]
    instrument_ids: set[int]
    latest: datetime | None

    @property
    def applied(self) -> int:
        return sum(outcome.applied for outcome in self.outcomes)


def apply_ticks(items: list) -> TicksResult:
    """Write each valid tick's price (unless a newer price is stored); report each item."""
    outcomes: list[TickOutcome] = []
    parsed: list[tuple[int, Tick]] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, parse_tick(item)))
        except FieldError as error:
            outcomes.append(TickOutcome(index, echoed(item, "symbol", SYMBOL_LENGTH * 2), False, str(error)))
    instruments = dict(
        Instrument.objects.filter(symbol__in={tick.symbol for _, tick in parsed}).values_list("symbol", "pk")
    )
    changed: set[int] = set()
    latest = None
    known = []
    for index, tick in parsed:
        if tick.symbol not in instruments:
            outcomes.append(TickOutcome(index, tick.symbol, False, f"unknown symbol {tick.symbol!r}"))
        else:
            known.append((instruments[tick.symbol], index, tick))
    # The rows in one order (their ids, each one's ticks as sent), whatever order a sender lists them in:
    # two senders writing the same stocks wait for each other and never deadlock.
    for instrument_id, index, tick in sorted(known, key=lambda row: row[:2]):
        # Conditional on the stored time, so concurrent senders never move a price backwards.
        updated = (
            Instrument.objects.filter(pk=instrument_id)
            .filter(Q(price_time__isnull=True) | Q(price_time__lte=tick.time))
            .update(price=tick.price, price_time=tick.time)
        )
        if not updated:
            stored = Instrument.objects.filter(pk=instrument_id).values_list("price_time", flat=True).first()
            outcomes.append(
                TickOutcome(
                    index,
                    tick.symbol,
                    False,
                    f"older than the stored price (tick {tick.time.isoformat()}, stored {stored.isoformat()})",
                )
            )
            continue
        outcomes.append(TickOutcome(index, tick.symbol, True))
        changed.add(instrument_id)
        latest = tick.time if latest is None else max(latest, tick.time)
    # In the prices' transaction: the holders' figures owe these prices a recompute until one runs.
    pending.mark(changed, now=timezone.now())
    outcomes.sort(key=lambda outcome: outcome.index)
    return TicksResult(outcomes, changed, latest)


def apply_and_recompute(items: list) -> TicksResult:
    """The one path prices come in by (the API and the market simulator): write, then queue the
    recompute of the holders."""
    # Each price with its pending mark, whoever calls; a batch the database undid to break a deadlock
    # (another writer of the same rows) wrote nothing and is written again.
    result = atomic_again(lambda: apply_ticks(items), what="prices")
    if result.instrument_ids:
        ids, at = sorted(result.instrument_ids), result.latest.isoformat()
        transaction.on_commit(lambda: _announce(ids, at))
    pending.say_if_stuck()
    return result


def _announce(instrument_ids: list[int], at: str) -> None:
    """Tell the apps above the book that these prices changed (the risk app queues the holders'
    recompute). Whatever a listener fails at, the prices stay marked pending and the sweep takes them
    up: the caller is not failed for prices already stored."""
    for listener, outcome in prices_changed.send_robust(sender=TicksResult, instrument_ids=instrument_ids, latest=at):
        if isinstance(outcome, Exception):
            logger.error(
                "%s failed on prices %s; the sweep will take them up", listener, instrument_ids, exc_info=outcome
            )
