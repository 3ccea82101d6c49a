"""The notices follow the risk app's calls: a call that opens gets its trigger notice, one that
escalates its force-call notice. A reopened call gets its trigger notice only if its client was never
told (services.system_notices)."""

from __future__ import annotations

import logging

from console.queue import QUEUE_AWAY

from .models import NoticeKind

logger = logging.getLogger(__name__)


def calls_changed(sender, *, opened=(), reopened=(), escalated=(), **kwargs):
    for kind, call_ids in ((NoticeKind.TRIGGER, [*opened, *reopened]), (NoticeKind.FORCE_CALL, escalated)):
        if call_ids:
            write_system_notices(kind, list(call_ids))


def write_system_notices(kind: str, call_ids: list[int]) -> None:
    """Queue the writing of these calls' notices; when the task queue cannot be reached, write them here
    and now (their deliveries wait for the sweep), so a call never goes without its notice."""
    from . import services, tasks

    try:
        tasks.system_notices.delay(kind, call_ids)
    except QUEUE_AWAY as error:
        logger.warning("%s notices of %d calls written here (task queue unreachable: %s)", kind, len(call_ids), error)
        services.system_notices(kind, call_ids)
