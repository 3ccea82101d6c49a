"""What a refused form held, kept in the session so the page it goes back to shows it again to
correct: once, and only just after the refusal (not a day later, on a call reopened since)."""

from __future__ import annotations

import time

KEPT_FOR_SECONDS = 120


def keep(request, key: str, values) -> None:
    request.session[key] = {"at": time.time(), "values": values}


def take(request, key: str):
    """The values kept under ``key``, or None: taken from the session either way."""
    kept = request.session.pop(key, None)
    if not isinstance(kept, dict) or time.time() - kept.get("at", 0) > KEPT_FOR_SECONDS:
        return None
    return kept.get("values")
