"""Telling open pages that calls changed.

The database is the record: every change to a call sets its ``updated_at``, and a page's event
stream reads the calls changed since its cursor. With Redis, writers publish the changed call ids so
streams wake at once; without Redis (the embedded default) streams poll the database."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL = "margincall:calls"
POLL_SECONDS = 0.5


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def publish(call_ids) -> None:
    if not settings.REDIS_URL or not call_ids:
        return
    try:
        _redis().publish(CHANNEL, json.dumps(list(call_ids)[:1000]))
    except Exception:  # a page that misses a wake-up still sees the change at its next poll
        logger.warning("could not publish call changes", exc_info=True)


def wakeups(timeout: float) -> Iterator[None]:
    """Yield whenever calls may have changed, and at least every ``timeout`` seconds. If Redis is
    unset or goes away, fall back to polling: the page stays live, only a little later."""
    if settings.REDIS_URL:
        import redis

        pubsub = _redis().pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            while True:
                pubsub.get_message(timeout=timeout)
                # Take whatever else is already queued: one wake-up per burst of changes.
                while pubsub.get_message(timeout=0.01):
                    pass
                yield
        except redis.RedisError:
            logger.warning("lost Redis; event streams poll the database", exc_info=True)
        finally:
            pubsub.close()
    while True:
        time.sleep(POLL_SECONDS)
        yield
