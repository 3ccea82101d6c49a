"""Celery tasks. Each is idempotent: it recomputes from the stored book, and what it writes is keyed
so that running it twice (a redelivery) writes nothing new."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from . import selectors, services, snapshots
from .models import CALL_KINDS, MarginCall, RuleSet, SnapshotKind
from .trading_calendar import is_session

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def recompute_instruments(instrument_ids: list[int], at: str | None = None) -> dict:
    """After price ticks: recompute the holders, then open, follow or close their calls."""
    moment = dt.datetime.fromisoformat(at) if at else None
    holders = set(selectors.accounts_holding(instrument_ids))
    result = services.recompute_accounts(account_ids=holders, at=moment)
    return _summary(result)


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
    for rules in RuleSet.objects.filter(account_kind__in=CALL_KINDS):
        if moment.time() < rules.snapshot_time:
            continue
        pairs = list(
            MarginCall.objects.filter(closed_at__isnull=True, kind=rules.account_kind)
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
