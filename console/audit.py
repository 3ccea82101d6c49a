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
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        user=user if user is not None and user.is_authenticated else None,
        action=action,
        targets=[{"call": call_id} for call_id in calls],
        detail=detail or {},
        outcome=outcome[:OUTCOME_LENGTH],  # a refusal may quote what was sent at length
    )
