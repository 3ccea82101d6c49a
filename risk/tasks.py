"""Celery tasks. Each is idempotent: it recomputes from the stored book, and what it writes is keyed
so that running it twice (a redelivery) writes nothing new."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import suppress

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.utils import timezone

from book import pending
from book.models import Instrument
from book.trading_calendar import is_session
from console.locks import is_deadlock

from . import services, snapshots
from .models import CALL_KINDS, MarginCall, RuleSet, SnapshotKind

logger = logging.getLogger(__name__)
# Operators route this logger to their alerting (mail, pager); see LOGGING in settings.
alerts = logging.getLogger("margincall.alerts")


RETRIES = 5  # then the sweep takes over, every PENDING_SWEEP_SECONDS


@shared_task(bind=True, acks_late=True, max_retries=RETRIES)
def recompute_instruments(self, instrument_ids: list[int], at: str | None = None) -> dict:
    """After price ticks: recompute the holders, then open, follow or close their calls. A failure is
    retried with a growing delay (and alerted on); the prices stay marked until a recompute succeeds."""
    moment = dt.datetime.fromisoformat(at) if at else None
    try:
        return _summary(services.follow_prices(instrument_ids=instrument_ids, at=moment))
    except Exception as error:
        pending.failed(instrument_ids, error)
        alerts.error(
            "recompute of the holders of instruments %s failed (attempt %d): %s; retrying",
            instrument_ids,
            self.request.retries + 1,
            error,
            exc_info=True,
        )
        if self.request.retries >= RETRIES:
            raise
        raise self.retry(exc=error, countdown=min(60, 2**self.request.retries)) from None


PASS_QUEUED = "risk:recompute-pass-queued"
# Passes that lost a deadlock in a row (reset by a pass that commits): each runs again at once, the
# DEADLOCKS_ALERTED-th is alerted on and left to the sweep.
PASS_DEADLOCKS = "risk:recompute-pass-deadlocks"
PASS_DEADLOCKS_SECONDS = 300
DEADLOCKS_ALERTED = 3


def request_pass() -> None:
    """After prices committed: queue a recompute pass, unless one is queued and has not started yet;
    the prices then wait for that one (ticks coalesce). The mark expires, so a pass lost before it
    started holds nothing up for long, and the sweep takes up whatever is left."""
    if not cache.add(PASS_QUEUED, True, timeout=settings.RECOMPUTE_PASS_QUEUED_SECONDS):
        return
    try:
        recompute_pass.delay()
    except Exception:
        cache.delete(PASS_QUEUED)
        raise


@shared_task(acks_late=True)
def recompute_pass() -> dict:
    """Recompute the holders of every price waiting for it, once (``services.follow_pending``). Prices
    that arrive while it runs queue the next pass. A failure leaves the prices marked: the next
    price's pass or the sweep retries them; one the database undid to break a deadlock queues the next
    pass at once."""
    cache.delete(PASS_QUEUED)  # from here on, a new price queues the next pass
    try:
        result = services.follow_pending()
    except OperationalError as error:
        if not is_deadlock(error):
            raise
        losses = _deadlocks_in_a_row()
        if losses >= DEADLOCKS_ALERTED:
            alerts.error("recompute passes lost %d deadlocks in a row; their prices are left to the sweep", losses)
            raise
        # The writer that won has committed: the prices run again now, not at the sweep.
        try:
            request_pass()
        except Exception:
            raise error from None  # the queue away too: the deadlock is what the pass met; the sweep follows
        return {"instruments": 0, "deadlocked": True}
    with suppress(Exception):  # the figures are kept whatever the cache says
        cache.delete(PASS_DEADLOCKS)
    return {
        "instruments": result.instruments,
        "lag_ms": round(result.lag_seconds * 1000),
        "waited_ms": round(result.waited_seconds * 1000),
        "pass_ms": round(result.seconds * 1000),
        **_summary(result.recomputed),
    }


def _deadlocks_in_a_row() -> int:
    """Count this pass's deadlock with those before it that no pass has committed since; with no cache
    to count in, as many as are alerted on."""
    try:
        if cache.add(PASS_DEADLOCKS, 1, timeout=PASS_DEADLOCKS_SECONDS):
            return 1
        return cache.incr(PASS_DEADLOCKS)
    except ValueError:  # a pass committed (or the count expired) between the two: this one is the first
        cache.set(PASS_DEADLOCKS, 1, timeout=PASS_DEADLOCKS_SECONDS)
        return 1
    except Exception:
        logger.warning("recompute passes' deadlocks cannot be counted: the cache is out of reach", exc_info=True)
        return DEADLOCKS_ALERTED


@shared_task(acks_late=True)
def recompute_pending(older_than_seconds: float | None = None) -> dict:
    """The sweep: prices whose holders' figures have not followed them for a while (a lost task, a
    worker that died between the price and its recompute, a recompute that keeps failing) are
    recomputed here. Each one late by more than ``PENDING_ALERT_SECONDS`` is alerted on."""
    now = timezone.now()
    grace = settings.PENDING_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    late = pending.overdue(now - dt.timedelta(seconds=grace))
    if not late:
        return {"instruments": 0}
    symbols = dict(Instrument.objects.filter(pk__in=[row.instrument_id for row in late]).values_list("pk", "symbol"))
    for row in late:
        lag = (now - row.since).total_seconds()
        if lag > settings.PENDING_ALERT_SECONDS:
            alerts.error(
                "the holders of %s (instrument %s) have not followed its price for %.0f s (%d failed attempts%s)",
                symbols.get(row.instrument_id, "?"),
                row.instrument_id,
                lag,
                row.attempts,
                f"; last error: {row.last_error}" if row.last_error else "",
            )
    result = services.follow_pending(marks=late, now=now)
    logger.info("sweep: recomputed the holders of %d instrument(s) left pending", result.instruments)
    return {"instruments": result.instruments, **_summary(result.recomputed)}


@shared_task(acks_late=True)
def recompute_all() -> dict:
    """The safety net: every account, every call."""
    result = services.recompute_accounts()
    logger.info("full recompute: %s", _summary(result))
    return _summary(result)


@shared_task(acks_late=True)
def daily_snapshots(now: str | None = None) -> dict:
    """Each rule set's daily snapshot of its kind's open calls, once the set time has passed on a
    trading day. Runs often (beat); the snapshot key is the date, so each call gets one a day."""
    moment = timezone.localtime(dt.datetime.fromisoformat(now) if now else timezone.now())
    taken = {}
    if not is_session(moment.date()):
        return taken
    due = [
        rules for rules in RuleSet.objects.filter(account_kind__in=CALL_KINDS) if moment.time() >= rules.snapshot_time
    ]
    if due:
        # A snapshot keeps the prices with the figures: prices still waiting for their pass are
        # followed first (a pass that fails is alerted on and retried by the sweep).
        with suppress(Exception):
            services.follow_pending()
    for rules in due:
        pairs = list(
            MarginCall.objects.filter(closed_at__isnull=True, kind=rules.account_kind, triggered_at__lte=moment)
            .exclude(snapshots__key=f"daily:{moment.date()}")
            .values_list("pk", "account_id")
        )
        taken[rules.account_kind] = snapshots.take(
            pairs, kind=SnapshotKind.DAILY, key=f"daily:{moment.date()}", at=moment
        )
    return taken


def _summary(result: services.RecomputeResult) -> dict:
    return {
        "accounts": result.accounts,
        "moved": result.moved,
        "failed": len(result.failed),
        "opened": len(result.calls.opened),
        "escalated": len(result.calls.escalated),
        "closed": len(result.calls.closed),
    }
