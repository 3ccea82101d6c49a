"""The notices follow the risk app's calls: a call that opens gets its trigger notice, one that
escalates its force-call notice. A reopened call gets none (its trigger notice was sent)."""

from __future__ import annotations

import logging

from .models import NoticeKind

logger = logging.getLogger(__name__)


def calls_changed(sender, *, opened=(), reopened=(), escalated=(), **kwargs):
    from . import tasks

    if opened:
        tasks.system_notices.delay(NoticeKind.TRIGGER, list(opened))
    if escalated:
        tasks.system_notices.delay(NoticeKind.FORCE_CALL, list(escalated))
