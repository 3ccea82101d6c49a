"""Telling open pages that records changed.

A :class:`Feed` is one kind of record pages follow (the risk app's margin calls; later orders,
notices, recovery items), with two queries the app supplies: the (id, kind, desk) of given records,
and the (id, kind, desk, updated_at) of records changed since a moment. The database is the record:
every change sets its ``updated_at``. After a commit, writers publish the changed records on Redis.
Each server process keeps one subscription per feed, a :class:`Hub`, and fans the changes out to the
event streams it holds, each filtered to its page's kind and its user's desks. Without Redis (the
embedded default), or while Redis is away, the hub polls the database instead: one query per process
and feed, whatever the number of streams. A stream waiting for changes holds no thread and no database
connection."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .queue import QUEUE_AWAY, Outage

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0
# A subscription quiet this long is pinged, and one with no answer in as long is taken as gone.
LISTEN_CHECK_SECONDS = 5.0
PUBLISH_CHUNK = 1000
# A change committed a while after its updated_at (a recompute that waited on the recompute lock) is
# still seen by a database poll or a stream's catch-up.
OVERLAP = timedelta(seconds=10)
# After Redis comes back and goes again, the poll picks up from where it left, but never further back.
POLL_RESUME_LIMIT = timedelta(seconds=60)


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_TIMEOUTS)


Change = tuple[int, str, int | None]  # (id, kind, desk id): what a stream filters on


@dataclass(frozen=True)
class Feed:
    """A kind of record open pages follow: its name (``calls``), and the app's two queries."""

    name: str
    changes_of: Callable[[list[int]], list[Change]]  # ids -> their (id, kind, desk)
    changed_since: Callable[[object], list[tuple]]  # moment -> (id, kind, desk, updated_at) changed after it

    @property
    def channel(self) -> str:
        """One deployment's channel: consoles on one database hear each other's changes; another on
        the same Redis server (another database: a test system, a test run) never hears them (Redis
        publishes across its numbered databases)."""
        return f"margincall:{settings.DATABASES['default']['NAME']}:{self.name}"


def publish(feed: Feed, ids) -> None:
    """Tell every server process that these records changed. Call after the change is committed."""
    if not settings.REDIS_URL or not ids or not redis_away.try_now(REDIS_RETRY_SECONDS):
        return  # while Redis is away, tried at most every REDIS_RETRY_SECONDS: pages refresh meanwhile
    try:
        ids = sorted(set(ids))
        changes = []
        for start in range(0, len(ids), PUBLISH_CHUNK):
            changes += feed.changes_of(ids[start : start + PUBLISH_CHUNK])
        client = _redis()
        for start in range(0, len(changes), PUBLISH_CHUNK):
            client.publish(feed.channel, json.dumps({"changes": changes[start : start + PUBLISH_CHUNK]}))
    except QUEUE_AWAY as error:  # Redis is away: said as an outage, not once (with a traceback) per change
        redis_away.failed("open pages are not told of changes (Redis: %s); each sees them at its next refresh", error)
        return
    except Exception:  # a page that misses a wake-up still sees the change at its next refresh
        logger.warning("could not publish %s changes", feed.name, exc_info=True)
        return
    redis_away.over("open pages are told of changes again")


redis_away = Outage(remind_seconds=300)
REDIS_RETRY_SECONDS = 5


@dataclass(eq=False)
class Stream:
    """One open page's share of the hub: the records of its kind and desks changed since it last looked."""

    user_id: int
    kind: str | None  # None: every kind
    desks: frozenset[int] | None  # None: every desk
    pending: set[int] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, changes: Iterable) -> None:
        ids = {
            call_id
            for call_id, kind, desk in changes
            if (self.kind is None or kind == self.kind) and (self.desks is None or desk in self.desks)
        }
        if ids:
            self.pending |= ids
            self.wake.set()

    async def changed(self, timeout: float) -> set[int]:
        """The records changed since the last look, waiting up to ``timeout`` seconds for one."""
        if not self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()
        ids, self.pending = self.pending, set()
        return ids


class StreamLimit(Exception):
    """The user has as many streams open in this process as allowed."""


class Hub:
    """The streams of one server process (one event loop) and their one source of changes."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self.streams: set[Stream] = set()
        self.per_user: Counter[int] = Counter()
        self.task: asyncio.Task | None = None
        self.source = "none"
        self.ready = asyncio.Event()  # set while subscribed (or polling): changes from then on arrive
        # Where the database poll is: kept across Redis outages so no change falls between two polls.
        self.poll_cursor = None
        self.poll_seen: set[tuple[int, object]] = set()
        self.outage = False  # Redis lost and not back yet (said once, and again when it is back)

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.ready.is_set()

    def has_room(self, user_id: int) -> bool:
        return self.per_user[user_id] < settings.EVENT_STREAMS_PER_USER

    def open(self, user_id: int, kind: str | None, desks: frozenset[int] | None) -> Stream:
        if not self.has_room(user_id):
            raise StreamLimit
        stream = Stream(user_id, kind, desks)
        self.streams.add(stream)
        self.per_user[user_id] += 1
        if self.task is None or self.task.done():
            # A context of its own: the hub outlives the request that started it (and that request's
            # thread for database work).
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name=f"margincall-push-{self.feed.name}", context=contextvars.Context()
            )
        return stream

    def close(self, stream: Stream) -> None:
        if stream not in self.streams:
            return
        self.streams.discard(stream)
        self.per_user[stream.user_id] -= 1
        if self.per_user[stream.user_id] <= 0:
            del self.per_user[stream.user_id]
        if not self.streams and self.task is not None:
            # Nobody listens: stop the subscription (or the poll) until the next page opens; that page
            # catches up by itself.
            self.task.cancel()
            self.task = None
            self.ready.clear()
            self.poll_cursor, self.poll_seen = None, set()

    def dispatch(self, changes: list) -> None:
        for stream in list(self.streams):
            stream.offer(changes)

    async def _run(self) -> None:
        while True:
            if settings.REDIS_URL:
                try:
                    await self._listen()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # Said once an outage (its retries every few seconds would fill the log), and when it ends.
                    if not self.outage:
                        logger.warning(
                            "lost Redis (%s: %s); event streams poll the database until it is back",
                            type(error).__name__,
                            error,
                        )
                    self.outage = True
                await self._poll(seconds=REDIS_RETRY_SECONDS)
            else:
                await self._poll(seconds=None)

    async def _listen(self) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                # A Redis that takes the connection but answers nothing (hung) is not waited on.
                await asyncio.wait_for(pubsub.subscribe(self.feed.channel), LISTEN_CHECK_SECONDS)
                self.source = "redis"
                self.ready.set()
                if self.outage:
                    logger.warning("Redis is back: event streams listen to it again")
                    self.outage = False
                while True:
                    message = await pubsub.get_message(timeout=LISTEN_CHECK_SECONDS)
                    if message is None:
                        await self._still_there(pubsub)
                        continue
                    self._take(message)
        finally:
            self.source = "none"
            self.ready.clear()
            await client.aclose()

    async def _still_there(self, pubsub) -> None:
        """A quiet subscription is asked for a pong: a Redis that hangs (no answer, its socket still
        open) is taken as gone, and the streams poll the database, instead of waiting on it silently."""
        await asyncio.wait_for(pubsub.ping(), LISTEN_CHECK_SECONDS)
        deadline = time.monotonic() + LISTEN_CHECK_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None and message.get("type") == "pong":
                return
            if message is not None:
                self._take(message)
        raise TimeoutError(f"no answer to a ping in {LISTEN_CHECK_SECONDS:g} s")

    def _take(self, message) -> None:
        """A message of the channel: its changes go to the streams (a pong or another kind is no change)."""
        if message.get("type") != "message":
            return
        try:
            changes = [tuple(change) for change in json.loads(message["data"])["changes"]]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed %s message: %.200r", self.feed.name, message["data"])
            return
        self.dispatch(changes)

    async def _poll(self, seconds: float | None) -> None:
        now = timezone.now()
        if self.poll_cursor is None or self.poll_cursor < now - POLL_RESUME_LIMIT:
            # What changed before the poll began is already on the pages (or in their catch-up).
            self.poll_cursor = now
            with contextlib.suppress(Exception):
                rows = await sync_to_async(self._changed_since)(now - OVERLAP)
                self.poll_seen = {(row[0], row[3]) for row in rows}
        self.source = "database"
        self.ready.set()
        until = None if seconds is None else time.monotonic() + seconds
        try:
            while until is None or time.monotonic() < until:
                await asyncio.sleep(POLL_SECONDS)
                try:
                    rows = await sync_to_async(self._changed_since)(self.poll_cursor - OVERLAP)
                except Exception:
                    logger.warning("could not read %s changes", self.feed.name, exc_info=True)
                    continue
                fresh = [row for row in rows if (row[0], row[3]) not in self.poll_seen]
                if not fresh:
                    continue
                self.poll_cursor = max(self.poll_cursor, max(row[3] for row in fresh))
                horizon = self.poll_cursor - OVERLAP
                self.poll_seen = {(row[0], row[3]) for row in rows if row[3] > horizon}
                self.dispatch([row[:3] for row in fresh])
        finally:
            self.source = "none"
            self.ready.clear()

    def _changed_since(self, moment) -> list:
        try:
            return self.feed.changed_since(moment)
        finally:
            close_old_connections()  # back to the pool between polls (and reopened if it broke)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Hub]] = weakref.WeakKeyDictionary()


def hub(feed: Feed) -> Hub:
    """This process's hub of a feed (one per event loop)."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    found = hubs.get(feed.name)
    if found is None:
        found = hubs[feed.name] = Hub(feed)
    return found
