"""The append-only audit log of console actions (docs/domain.md, Permissions)."""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry

OUTCOME_LENGTH = AuditEntry._meta.get_field("outcome").max_length

# What each action of the log is called in the admin, in the reader's language: the admin's own here,
# each app's from its AppConfig.ready (:func:`name`). An action with no name is shown as stored.
NAMES: dict[str, Promise] = {
    "admin_add": _("Added in the admin"),
    "admin_change": _("Changed in the admin"),
    "admin_delete": _("Deleted in the admin"),
    "admin_permissions": _("Desk permissions changed in the admin"),
}


def name(action: str, label: Promise) -> None:
    """Name an action of the log (``end_call``: "End a call") for its readers."""
    NAMES[action] = label


def named(action: str) -> str:
    return str(NAMES.get(action, action))


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
