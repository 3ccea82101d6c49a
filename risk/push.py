"""Telling open pages that calls changed.

The database is the record: every change to a call sets its ``updated_at``. After a commit, writers
publish the changed calls (id, account kind, desk) on Redis. Each server process keeps one
subscription, a :class:`Hub`, and fans the changes out to the event streams it holds, each filtered to
its page's kind and its user's desks. Without Redis (the embedded default), or while Redis is away,
the hub polls the database instead: one query per process, whatever the number of streams. A stream
waiting for changes holds no thread and no database connection."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

CHANNEL = "margincall:calls"
POLL_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0
PUBLISH_CHUNK = 1000
# A change committed a while after its updated_at (a recompute that waited on the recompute lock) is
# still seen by a database poll or a stream's catch-up.
OVERLAP = timedelta(seconds=10)
# After Redis comes back and goes again, the poll picks up from where it left, but never further back.
POLL_RESUME_LIMIT = timedelta(seconds=60)


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def changes_of(call_ids: Iterable[int]) -> list[tuple[int, str, int | None]]:
    """(call id, account kind, desk id) of these calls: what a stream filters on."""
    from .models import MarginCall

    ids = sorted(set(call_ids))
    rows = []
    for start in range(0, len(ids), PUBLISH_CHUNK):
        rows += MarginCall.objects.filter(pk__in=ids[start : start + PUBLISH_CHUNK]).values_list(
            "pk", "kind", "account__desk_id"
        )
    return rows


def publish(call_ids) -> None:
    """Tell every server process that these calls changed. Call after the change is committed."""
    if not settings.REDIS_URL or not call_ids:
        return
    try:
        changes = changes_of(call_ids)
        client = _redis()
        for start in range(0, len(changes), PUBLISH_CHUNK):
            client.publish(CHANNEL, json.dumps({"calls": changes[start : start + PUBLISH_CHUNK]}))
    except Exception:  # a page that misses a wake-up still sees the change at its next refresh
        logger.warning("could not publish call changes", exc_info=True)


@dataclass(eq=False)
class Stream:
    """One open page's share of the hub: the calls of its kind and desks changed since it last looked."""

    user_id: int
    kind: str
    desks: frozenset[int] | None  # None: every desk
    pending: set[int] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, changes: Iterable) -> None:
        ids = {
            call_id
            for call_id, kind, desk in changes
            if kind == self.kind and (self.desks is None or desk in self.desks)
        }
        if ids:
            self.pending |= ids
            self.wake.set()

    async def changed(self, timeout: float) -> set[int]:
        """The calls changed since the last call, waiting up to ``timeout`` seconds for one."""
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

    def __init__(self):
        self.streams: set[Stream] = set()
        self.per_user: Counter[int] = Counter()
        self.task: asyncio.Task | None = None
        self.source = "none"
        self.ready = asyncio.Event()  # set while subscribed (or polling): changes from then on arrive
        # Where the database poll is: kept across Redis outages so no change falls between two polls.
        self.poll_cursor = None
        self.poll_seen: set[tuple[int, object]] = set()

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.ready.is_set()

    def has_room(self, user_id: int) -> bool:
        return self.per_user[user_id] < settings.EVENT_STREAMS_PER_USER

    def open(self, user_id: int, kind: str, desks: frozenset[int] | None) -> Stream:
        if not self.has_room(user_id):
            raise StreamLimit
        stream = Stream(user_id, kind, desks)
        self.streams.add(stream)
        self.per_user[user_id] += 1
        if self.task is None or self.task.done():
            # A context of its own: the hub outlives the request that started it (and that request's
            # thread for database work).
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name="margincall-push-hub", context=contextvars.Context()
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
                except Exception:
                    logger.warning("lost Redis; event streams poll the database until it is back", exc_info=True)
                await self._poll(seconds=REDIS_RETRY_SECONDS)
            else:
                await self._poll(seconds=None)

    async def _listen(self) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                self.source = "redis"
                self.ready.set()
                while True:
                    message = await pubsub.get_message(timeout=60.0)
                    if message is None:
                        continue
                    try:
                        changes = [tuple(change) for change in json.loads(message["data"])["calls"]]
                    except (ValueError, KeyError, TypeError):
                        logger.warning("ignored a malformed call-change message: %.200r", message["data"])
                        continue
                    self.dispatch(changes)
        finally:
            self.source = "none"
            self.ready.clear()
            await client.aclose()

    async def _poll(self, seconds: float | None) -> None:
        now = timezone.now()
        if self.poll_cursor is None or self.poll_cursor < now - POLL_RESUME_LIMIT:
            # What changed before the poll began is already on the pages (or in their catch-up).
            self.poll_cursor = now
            with contextlib.suppress(Exception):
                rows = await sync_to_async(_changed_since)(now - OVERLAP)
                self.poll_seen = {(row[0], row[3]) for row in rows}
        self.source = "database"
        self.ready.set()
        until = None if seconds is None else time.monotonic() + seconds
        try:
            while until is None or time.monotonic() < until:
                await asyncio.sleep(POLL_SECONDS)
                try:
                    rows = await sync_to_async(_changed_since)(self.poll_cursor - OVERLAP)
                except Exception:
                    logger.warning("could not read call changes", exc_info=True)
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


def _changed_since(moment) -> list:
    from .models import MarginCall

    try:
        return list(
            MarginCall.objects.filter(updated_at__gt=moment).values_list("pk", "kind", "account__desk_id", "updated_at")
        )
    finally:
        close_old_connections()  # back to the pool between polls (and reopened if it broke)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This process's hub (one per event loop)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub()
    return found
