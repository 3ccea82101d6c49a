"""What a refused form held, kept in the session so the page it goes back to shows it again to
correct: once, and only just after the refusal (not a day later, on a call reopened since)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from .fields import parse_id

KEPT_FOR_SECONDS = 120


def keep(request, key: str, values) -> None:
    request.session[key] = {"at": time.time(), "values": values}


def take(request, key: str):
    """The values kept under ``key``, or None: taken from the session either way."""
    kept = request.session.pop(key, None)
    if not isinstance(kept, dict) or time.time() - kept.get("at", 0) > KEPT_FOR_SECONDS:
        return None
    return kept.get("values")


# A batch from a list's bar (the rows ticked, what its bar held): kept when it is refused, so the list
# it goes back to has them ticked and typed again, not a selection of 50 rows to make again.
BATCH_KEY = "batch-typed"
NOT_KEPT = frozenset({"csrfmiddlewaretoken", "next", "key", "action", "calls"})


def keep_batch(request, back: str) -> None:
    """Keep what a refused batch held for ``back``, the list page it goes back to (another tab's list,
    or the other list, does not take it)."""
    post = request.POST
    calls = [pk for pk in map(parse_id, post.getlist("calls")[:1000]) if pk is not None]
    # A bar has a handful of boxes: a forged request with thousands is not kept whole in the session.
    names = [name for name in post if name not in NOT_KEPT and len(name) <= 40][:10]
    fields = {name: [value[:2000] for value in post.getlist(name)[:5]] for name in names}
    keep(request, f"{BATCH_KEY}:{urlsplit(back).path}", {"calls": calls, "fields": fields})


def take_batch(request) -> dict | None:
    """What a refused batch held, on the list page it went back to (this request's)."""
    return take(request, f"{BATCH_KEY}:{request.path}")
