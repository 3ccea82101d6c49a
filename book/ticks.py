"""Prices in: a list of ticks ``{"symbol", "price", "time"}``, each applied or refused with its reason.

A tick is applied when its instrument exists, its price is a positive number that fits storage, its
time is ISO 8601 (no offset means Hong Kong time), it is not older than the stored price, and its
kind's price band (:class:`book.models.PriceBand`, set in the admin; none by default) does not hold it.
The price is written at once; the holders are recomputed by the next recompute pass (``risk.tasks.recompute_pass``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any

from django.db import connection, transaction
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
alerts = logging.getLogger("margincall.alerts")

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


@dataclass
class Stored:
    """An instrument's stored price as a batch of ticks meets it, moved along as the batch applies or holds."""

    pk: int
    kind: str
    price: Decimal
    time: datetime | None
    held_price: Decimal | None
    held_time: datetime | None

    def before_held(self, tick: Tick) -> bool:
        """Stamped before the held tick (a feed's late delivery): it neither replaces nor forgets it."""
        return self.held_time is not None and tick.time < self.held_time


def within(price: Decimal, reference: Decimal, band: Decimal) -> bool:
    """Whether ``price`` is within ``band`` (a fraction) of ``reference``."""
    return abs(price - reference) <= band * reference


def band_problem(tick: Tick, stored: Stored, band: Decimal | None) -> str:
    """Why this tick is held by its kind's price band (a fraction of the stored price), or "" to apply it.
    A tick further than the band from the stored price is held; a later one within the band of the held
    price (held after the stored price was) confirms that move and is applied. A tick within the band
    of the stored price is applied. No band, or no price stored to measure from (0): applied."""
    if band is None or stored.price <= 0:
        return ""
    if within(tick.price, stored.price, band):
        return ""
    held, held_time = stored.held_price, stored.held_time
    if (
        held is not None
        and held_time is not None
        and tick.time > held_time
        and (stored.time is None or held_time >= stored.time)  # a price stored since says otherwise
        and within(tick.price, held, band)
    ):
        return ""  # a later tick near the held price: the market did move that far
    said = (
        f"held: {percent_move(tick.price, stored.price)} from the stored price {_plain(stored.price)}, more than"
        f" the {_plain(band * 100)}% price band of its kind ({stored.kind}); "
    )
    if stored.before_held(tick):  # a late delivery: the held one stays
        at = timezone.localtime(held_time).isoformat()
        return said + f"stamped before the price held ({_plain(held)} at {at}), it is not kept"
    return said + f"a later tick within {_plain(band * 100)}% of {_plain(tick.price)} confirms it"


def percent_move(value: Decimal, stored: Decimal) -> str:
    """The move from a stored (positive) value in percent, rounded away from 0 so that a move past a
    limit never reads as the limit itself (+20.01%, not +20.00%, for 120.004 against 100 and 20%); a
    fall stops at -99.99% (the value is never 0)."""
    move = ((value - stored) / stored * 100).quantize(Decimal("0.01"), rounding=ROUND_UP)
    return f"{max(move, Decimal('-99.99')):+.2f}%"


def _plain(number: Decimal) -> str:
    """A price or a percentage as a person writes it: no exponent, no trailing zeros."""
    return f"{number.normalize():f}"


def apply_ticks(items: list) -> TicksResult:
    """Write each valid tick's price (unless a newer price is stored, or its kind's price band holds it);
    report each item. Runs in the caller's transaction (it locks the instruments it writes)."""
    outcomes: list[TickOutcome] = []
    parsed: list[tuple[int, Tick]] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, parse_tick(item)))
        except FieldError as error:
            outcomes.append(TickOutcome(index, echoed(item, "symbol", SYMBOL_LENGTH * 2), False, str(error)))
    # Locked in one order (their ids), whatever order a sender lists them in: two senders writing the
    # same stocks wait for each other and never deadlock. Read under the lock, the stored times are the
    # ones this batch writes over, so concurrent senders never move a price backwards.
    stored = {
        row[0]: Stored(*row[1:])
        for row in Instrument.objects.select_for_update()
        .filter(symbol__in={tick.symbol for _, tick in parsed})
        .order_by("pk")
        .values_list("symbol", "pk", "kind", "price", "price_time", "held_price", "held_time")
    }
    # Each kind's band as a fraction of the stored price.
    bands = {kind: move / 100 for kind, move in m.PriceBand.objects.values_list("kind", "max_move")} if stored else {}
    written: dict[int, Tick] = {}  # each instrument's last applied tick: what is written
    held_changed: dict[int, Stored] = {}  # instruments whose held price this batch changed
    held_said: list[str] = []
    latest = None
    for index, tick in parsed:
        if tick.symbol not in stored:
            outcomes.append(TickOutcome(index, tick.symbol, False, f"unknown symbol {tick.symbol!r}"))
            continue
        current = stored[tick.symbol]
        if current.time is not None and current.time > tick.time:
            reason = f"older than the stored price (tick {tick.time.isoformat()}, stored {current.time.isoformat()})"
            outcomes.append(TickOutcome(index, tick.symbol, False, reason))
            continue
        band = bands.get(current.kind)
        before_held = current.before_held(tick)
        if problem := band_problem(tick, current, band):
            if not before_held:
                current.held_price, current.held_time = tick.price, tick.time
                held_changed[current.pk] = current
            outcomes.append(TickOutcome(index, tick.symbol, False, problem))
            held_said.append(f"price of {tick.symbol} {problem}")
            continue
        if not before_held and current.held_price is not None:  # confirmed, or a stray the market came back from
            at = timezone.localtime(current.held_time).isoformat()
            if band is None:  # the band was taken away since: what it held is moot
                held_said.append(
                    f"price of {tick.symbol} {_plain(tick.price)} applied with no price band now: the price"
                    f" {_plain(current.held_price)} held at {at} is forgotten"
                )
            elif not within(tick.price, current.price, band):
                held_said.append(
                    f"price of {tick.symbol} {_plain(tick.price)} applied: it confirms the move from"
                    f" {_plain(current.price)} to {_plain(current.held_price)} held at {at}"
                )
            current.held_price, current.held_time = None, None
            held_changed[current.pk] = current
        # A later tick of the same time wins: a feed stamps several trades of one second alike.
        current.price, current.time = tick.price, tick.time
        written[current.pk] = tick
        outcomes.append(TickOutcome(index, tick.symbol, True))
        latest = tick.time if latest is None else max(latest, tick.time)
    _write(written, held_changed)
    if held_said:  # said once the prices are kept (a batch undone and written again says it once)
        transaction.on_commit(lambda: [alerts.warning("%s", said) for said in held_said])
    changed = set(written)
    # In the prices' transaction: the holders' figures owe these prices a recompute until one runs.
    pending.mark(changed, now=timezone.now())
    outcomes.sort(key=lambda outcome: outcome.index)
    return TicksResult(outcomes, changed, latest)


def _write(ticks: dict[int, Tick], held: dict[int, Stored]) -> None:
    """Each instrument's price and time, then each held price this batch changed (set, or cleared by a
    price applied), in the order of their ids (the order they were locked in), one statement a row sent
    at once: a body of thousands of ticks costs no round trip per tick."""
    meta, ops = Instrument._meta, connection.ops
    table, pk = ops.quote_name(meta.db_table), ops.quote_name(meta.pk.column)
    price, price_time = meta.get_field("price"), meta.get_field("price_time")
    held_price, held_time = meta.get_field("held_price"), meta.get_field("held_time")
    decimal = ops.adapt_decimalfield_value
    with connection.cursor() as cursor:
        if ticks:
            cursor.executemany(
                f"UPDATE {table} SET {ops.quote_name(price.column)} = %s, {ops.quote_name(price_time.column)} = %s"
                f" WHERE {pk} = %s",
                [
                    (
                        decimal(tick.price, price.max_digits, price.decimal_places),
                        ops.adapt_datetimefield_value(tick.time),
                        instrument_id,
                    )
                    for instrument_id, tick in sorted(ticks.items())
                ],
            )
        if held:
            cursor.executemany(
                f"UPDATE {table} SET {ops.quote_name(held_price.column)} = %s, {ops.quote_name(held_time.column)} = %s"
                f" WHERE {pk} = %s",
                [
                    (
                        None
                        if row.held_price is None
                        else decimal(row.held_price, held_price.max_digits, held_price.decimal_places),
                        ops.adapt_datetimefield_value(row.held_time),
                        instrument_id,
                    )
                    for instrument_id, row in sorted(held.items())
                ],
            )


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
