"""``GET /healthz``: whether this console process can serve, for a load balancer or an orchestrator.

200 when its database answers and has every migration of this version applied, and Redis answers
(where one is configured); 503 otherwise. The body names each part ``ok`` or what is wrong with it, and
how far the figures are behind the market (a worker that is down shows there, but does not make this
process unfit to serve pages). No login, and nothing in it but those words and numbers."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from book import pending

# Once every migration is found applied, a process does not look again (its code cannot change).
_migrated = {"yes": False}


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return "unreachable"
    if not _migrated["yes"]:
        from .serve import migrations_problem

        try:
            if migrations_problem(connection):
                return "migrations not applied"
        except Exception:
            return "unreachable"
        _migrated["yes"] = True
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not used"
    from console.push import _redis as client

    try:
        client().ping()
    except Exception:
        return "unreachable"
    return "ok"


@never_cache
@require_safe
def healthz(request):
    parts = {"database": _database(), "redis": _redis()}
    healthy = parts["database"] == "ok" and parts["redis"] in ("ok", "not used")
    body = {"status": "ok" if healthy else "unavailable", **parts}
    if parts["database"] == "ok":
        waiting = pending.lag()
        body["prices_waiting"] = waiting.waiting
        body["figures_behind_seconds"] = (
            round((timezone.now() - waiting.since).total_seconds(), 1) if waiting.since is not None else 0
        )
    return JsonResponse(body, status=200 if healthy else 503)
