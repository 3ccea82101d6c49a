"""The task queue (Celery on Redis) as the apps meet it when it is away."""

import logging
import time

from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What sending a task, or asking the Redis cache, raises while the queue is unreachable or not
# answering. A caller that catches these has a way on without the queue (a mark, a sweep, doing the work
# itself); any other error is a fault and goes on as one.
QUEUE_AWAY = (KombuOperationalError, RedisConnectionError, RedisTimeoutError)

alerts = logging.getLogger("margincall.alerts")


class Outage:
    """An outage as the alerts logger tells it: once when it starts, again every ``remind_seconds`` while
    it lasts (with how long), and once when it is over; never once per failed attempt (a storm's ticks,
    every task beat has due)."""

    def __init__(self, remind_seconds: float):
        self.remind_seconds = remind_seconds
        self.since: float | None = None
        self.said_at = 0.0
        self.failed_at = 0.0

    def try_now(self, every: float) -> bool:
        """Whether to try again: there is no outage, or its last failed attempt was ``every`` seconds
        ago or more. A server that hangs costs each attempt its whole timeout: a caller with a way on
        without it (a mark the sweep follows) tries once in a while, not on every call."""
        return self.since is None or time.monotonic() - self.failed_at >= every

    def failed(self, message: str, *args) -> None:
        now = time.monotonic()
        self.failed_at = now
        if self.since is None:
            self.since = self.said_at = now
            alerts.error(message, *args)
        elif now - self.said_at >= self.remind_seconds:
            self.said_at = now
            alerts.error(f"{message} (away for %.0f s)", *args, now - self.since)

    def over(self, message: str, *args) -> None:
        if self.since is not None:
            alerts.warning(f"{message} (after %.0f s)", *args, time.monotonic() - self.since)
            self.since = None
