"""Start-up checks of the server's own settings (``manage.py check`` runs them, and so do
``margincall.serve`` and the Celery worker before they start): a bad value stops the start, named,
instead of failing every request."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register
from django.db import connections

REDIS_SCHEMES = ("redis", "rediss", "unix")


@register("margincall")
def check_server(app_configs, **kwargs):
    problems = []
    pool = connections.settings["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        low, high, timeout = pool.get("min_size", 1), pool.get("max_size", 10), pool.get("timeout", 10)
        if not 0 <= low <= high or not 1 <= high <= 1000:
            problems.append(
                Error(
                    f"DB_POOL_MIN and DB_POOL_MAX must run 0 ≤ DB_POOL_MIN ≤ DB_POOL_MAX ≤ 1000 with DB_POOL_MAX at "
                    f"least 1, got {low} and {high}",
                    id="console.E001",
                )
            )
        if not 0 < timeout <= 600:
            problems.append(
                Error(f"DB_POOL_TIMEOUT must be more than 0 and at most 600, got {timeout}", id="console.E002")
            )
    if settings.REDIS_URL:
        problem = redis_url_problem(settings.REDIS_URL)
        if problem:
            problems.append(Error(f"REDIS_URL {problem}", id="console.E003"))
    if not 1 <= settings.EVENT_STREAMS_PER_USER <= 1000:
        problems.append(
            Error(f"EVENT_STREAMS_PER_USER must be 1 to 1000, got {settings.EVENT_STREAMS_PER_USER}", id="console.E004")
        )
    for name in ("PENDING_GRACE_SECONDS", "PENDING_ALERT_SECONDS", "FIGURES_STALE_SECONDS"):
        value = getattr(settings, name)
        if not 0 < value <= 86400:
            problems.append(Error(f"{name} must be more than 0 and at most 86400, got {value}", id="console.E005"))
    for entry, name in (
        ("recompute-all", "FULL_RECOMPUTE_SECONDS"),
        ("recompute-pending", "PENDING_SWEEP_SECONDS"),
        ("resubmit-orders", "ORDER_RESUBMIT_SECONDS"),
    ):
        schedule = settings.CELERY_BEAT_SCHEDULE[entry]["schedule"]
        if not 1 <= schedule <= 86400:
            problems.append(Error(f"{name} must be 1 to 86400, got {schedule}", id="console.E006"))
    if not settings.ORDER_RESUBMIT_SECONDS < settings.ORDER_SEND_GIVE_UP_SECONDS <= 86400:
        problems.append(
            Error(
                "ORDER_SEND_GIVE_UP_SECONDS must be more than ORDER_RESUBMIT_SECONDS and at most 86400, got "
                f"{settings.ORDER_SEND_GIVE_UP_SECONDS}",
                id="console.E007",
            )
        )
    return problems


def redis_url_problem(url: str) -> str:
    """Why ``url`` is not a Redis address the broker and the cache can use, or ''."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is no number raises here)
    except ValueError as error:
        return f"is not an address: {error} (got {url[:80]!r})"
    if parts.scheme not in REDIS_SCHEMES:
        return f"must start with redis://, rediss:// or unix://, got {url[:80]!r}"
    if parts.scheme != "unix" and not parts.hostname:
        return f"names no host, got {url[:80]!r}"
    return ""
