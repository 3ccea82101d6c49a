"""Prices whose holders' figures have not yet followed them (:class:`~risk.models.PendingRecompute`).

A price is marked pending in the transaction that stores it; the recompute that follows clears the
mark, unless a newer price bumped it meanwhile; the sweep takes up marks left too long."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from .models import PendingRecompute


def mark(instrument_ids: Iterable[int], *, now: datetime) -> None:
    """Mark these instruments' new prices as not yet followed (in the caller's transaction)."""
    ids = sorted(set(instrument_ids))
    if not ids:
        return
    table = connection.ops.quote_name(PendingRecompute._meta.db_table)
    # One statement per instrument, insert or bump: a mark keeps the time of its oldest price.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (instrument_id, since, version, attempts, last_error) VALUES (%s, %s, 1, 0, '') "
            f"ON CONFLICT (instrument_id) DO UPDATE SET version = {table}.version + 1",
            [(instrument_id, now) for instrument_id in ids],
        )


def versions(instrument_ids: Iterable[int]) -> dict[int, int]:
    """The marks as they stand before a recompute reads the book."""
    return dict(
        PendingRecompute.objects.filter(instrument_id__in=list(instrument_ids)).values_list("instrument_id", "version")
    )


def clear(seen: dict[int, int], *, read_at: datetime) -> int:
    """After a recompute that read the book after ``read_at``: remove the marks it followed (those still
    at the version it saw). A mark a newer price bumped meanwhile stays, but the figures now lag only
    from that price on, so its ``since`` moves up to ``read_at``."""
    if not seen:
        return 0
    # One clause per version seen, not per mark: a pass may follow thousands of prices.
    by_version = defaultdict(list)
    for instrument_id, version in seen.items():
        by_version[version].append(instrument_id)
    followed = Q()
    for version, instrument_ids in by_version.items():
        followed |= Q(version=version, instrument_id__in=instrument_ids)
    removed = PendingRecompute.objects.filter(followed).delete()[0]
    PendingRecompute.objects.filter(instrument_id__in=list(seen), since__lt=read_at).update(since=read_at)
    return removed


def failed(instrument_ids: Iterable[int], error: BaseException) -> None:
    PendingRecompute.objects.filter(instrument_id__in=list(instrument_ids)).update(
        attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
    )


def waiting() -> list[PendingRecompute]:
    """Every mark, oldest first: what the next recompute pass follows."""
    return list(PendingRecompute.objects.order_by("since"))


def overdue(before: datetime) -> list[PendingRecompute]:
    """Marks older than ``before``: their recompute is late, lost or failing."""
    return list(PendingRecompute.objects.filter(since__lt=before).order_by("since"))


@dataclass(frozen=True)
class Lag:
    """How far the stored figures are behind the prices: how many prices wait for their recompute, and
    since when the oldest waits (None when none does)."""

    waiting: int
    since: datetime | None

    def seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.since).total_seconds()) if self.since else 0.0


def lag() -> Lag:
    """One query."""
    found = PendingRecompute.objects.aggregate(waiting=Count("pk"), since=Min("since"))
    return Lag(found["waiting"], found["since"])


alerts = logging.getLogger("margincall.alerts")
# A price waiting this long has not been followed by any pass: the workers are down or stuck. The
# workers say so themselves when they run; this is said where prices come in, when they do not.
STUCK_SECONDS = 60
_checked = {"at": 0.0}
_checking = threading.Lock()


def say_if_stuck(every_seconds: float = 30) -> None:
    """Where prices come in (the price API): at most every ``every_seconds`` per process, one query for the
    oldest price still waiting; past :data:`STUCK_SECONDS`, an alert that figures are not following the
    market (the sweep that would say so runs on a worker, which may be the very thing that is down)."""
    now = time.monotonic()
    if now - _checked["at"] < every_seconds or not _checking.acquire(blocking=False):
        return
    try:
        _checked["at"] = now
        waiting = lag()
        if waiting.since is None:
            return
        behind = (timezone.now() - waiting.since).total_seconds()
        if behind > STUCK_SECONDS:
            alerts.error(
                "figures are %.0f s behind the market (%d price(s) waiting for their pass): check that a worker"
                " is running, reaches Redis and the database, and that its passes succeed (their errors are logged)",
                behind,
                waiting.waiting,
            )
    finally:
        _checking.release()
