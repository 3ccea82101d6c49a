"""The append-only audit log of console actions (docs/domain.md, Permissions)."""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from .models import AuditEntry

OUTCOME_LENGTH = AuditEntry._meta.get_field("outcome").max_length


def record(
    user,
    action: str,
    *,
    calls: Iterable[int] = (),
    detail: dict | None = None,
    outcome: str = "ok",
    at: datetime | None = None,
) -> AuditEntry:
    entry = _entry(user, action, calls=calls, detail=detail, outcome=outcome, at=at or timezone.now())
    entry.save()
    return entry


def record_each(user, action: str, details: Iterable[dict], *, outcome: str = "ok") -> None:
    """One entry per detail (rows deleted together), written in one statement."""
    now = timezone.now()
    AuditEntry.objects.bulk_create(_entry(user, action, detail=detail, outcome=outcome, at=now) for detail in details)


def _entry(user, action: str, *, calls: Iterable[int] = (), detail: dict | None, outcome: str, at: datetime):
    return AuditEntry(
        at=at,
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        targets=[{"call": call_id} for call_id in calls],
        detail=detail or {},
        outcome=outcome[:OUTCOME_LENGTH],  # a refusal may quote what was sent at length
    )
