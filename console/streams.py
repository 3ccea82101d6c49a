"""Server-sent event streams over a :mod:`console.push` feed: what every live page (call lists, the
Liquidation Orders page, a call's orders) opens to hear which of its records changed.

An event is ``event: <feed name>`` with ``{"<feed name>": [ids]}``; the page then fetches its rows
again, sending those ids back so the server marks them. An empty list means "refetch everything"
(the page missed too much to mark it). A stream waits without a thread or a database connection, ends
after :data:`STREAM_LIFETIME_SECONDS` (the browser reconnects and permissions are checked again), and
leaves its hub the moment the page goes away."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from . import push
from .permissions import stream_desks

STREAM_LIFETIME_SECONDS = 600
STREAM_KEEPALIVE_SECONDS = 15
STREAM_EVENT_INTERVAL_SECONDS = 0.25  # changes in the next moment go out together
STREAM_CATCH_UP = timedelta(minutes=10)  # a page older than this refetches its rows whole
CATCH_UP_LIMIT = 1000

# A ``since`` the stream cannot use: the page refetches its rows whole, without marks.
REFETCH_ALL = datetime(1970, 1, 1, tzinfo=UTC)

# (user, kind, since) -> the ids this user sees that changed since then; None when none did.
ChangedFor = Callable[[object, str | None, datetime], set[int] | None]


async def serve(request, feed: push.Feed, kind: str | None, changed_for: ChangedFor, *, sees=None):
    """The event stream of ``feed`` for this request's user: records of ``kind`` (None: any) on the
    user's desks. ``changed_for`` answers the catch-up of a page that says when it was rendered.
    ``sees(user, kind)``, if given, says whether the user may follow that kind (one call, say): a 404
    if not, as its page is."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    desks = await sync_to_async(stream_desks)(user)
    if desks is False:
        raise PermissionDenied
    if kind is not None and sees is not None and not await sync_to_async(sees)(user, kind):
        raise Http404
    hub = push.hub(feed)
    if not hub.has_room(user.pk):
        refused = HttpResponse(
            _("Too many open pages are following live updates; close some and reload this one."),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        add_never_cache_headers(refused)
        return refused
    # Done with the database until the stream runs: give the connection back now, not at its end.
    await sync_to_async(close_old_connections)()
    content = EventStream(hub, user, kind, desks, since_of(request), changed_for)
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["X-Accel-Buffering"] = "no"
    add_never_cache_headers(response)
    return response


class EventStream:
    """A stream's response content. It joins the hub only once the response is being sent (a client
    gone before that leaves nothing behind), and Django calls ``close()`` when the response ends,
    however it ended, so the stream leaves the hub at once."""

    def __init__(self, hub: push.Hub, user, kind, desks, since, changed_for: ChangedFor):
        self.hub, self.user, self.kind, self.desks, self.since = hub, user, kind, desks, since
        self.changed_for = changed_for
        self.stream = None
        self.loop = asyncio.get_running_loop()

    def __aiter__(self):
        return self.events()

    def close(self):
        if self.stream is None or self.loop.is_closed():
            return
        # Django may call this from its sync thread; the hub belongs to the event loop's thread.
        self.loop.call_soon_threadsafe(self.hub.close, self.stream)

    async def events(self):
        try:
            self.stream = self.hub.open(self.user.pk, self.kind, self.desks)
        except push.StreamLimit:  # another tab of this user took the last place meanwhile
            yield "retry: 60000\n\n"
            yield "event: refused\ndata: {}\n\n"
            return
        started = time.monotonic()
        name = self.hub.feed.name
        try:
            yield "retry: 2000\n\n"
            if self.since is not None:
                # Joined and listening first, then the catch-up: a change is in one or the other.
                await self.hub.wait_ready(timeout=5.0)
                catch_up = await sync_to_async(self._catch_up)()
                if catch_up is not None:
                    yield event(name, catch_up)
            while time.monotonic() - started < STREAM_LIFETIME_SECONDS:
                ids = await self.stream.changed(timeout=STREAM_KEEPALIVE_SECONDS)
                if not ids:
                    yield ": keepalive\n\n"
                    continue
                yield event(name, ids)
                await asyncio.sleep(STREAM_EVENT_INTERVAL_SECONDS)  # a page refetches at most this often
        finally:
            self.hub.close(self.stream)

    def _catch_up(self) -> set[int] | None:
        try:
            if self.since < timezone.now() - STREAM_CATCH_UP:
                return set()
            return self.changed_for(self.user, self.kind, self.since)
        finally:
            close_old_connections()


def event(name: str, ids) -> str:
    return f"id: {int(time.time() * 1000)}\nevent: {name}\ndata: {json.dumps({name: sorted(ids)})}\n\n"


def since_of(request) -> datetime | None:
    """When the page last saw its rows: the last event's id on a reconnect, else the page's own time
    (epoch milliseconds); None when it gave neither."""
    text = request.headers.get("Last-Event-ID") or request.GET.get("since", "")
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,13}", text):  # epoch milliseconds up to the year 2286
        return REFETCH_ALL
    moment = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    return REFETCH_ALL if moment > timezone.now() + timedelta(minutes=1) else moment


def changed_ids(queryset, since: datetime) -> set[int] | None:
    """The ids of ``queryset`` changed since ``since`` (with the feed's overlap); None when none did."""
    changed = queryset.filter(updated_at__gt=since - push.OVERLAP)
    return set(changed.values_list("pk", flat=True)[:CATCH_UP_LIMIT]) or None


def marked(text: str) -> set[int]:
    """The ``changed`` ids a page sends back: what is not an id is ignored (it only marks rows)."""
    return {int(part) for part in (part.strip() for part in text.split(",")) if re.fullmatch(r"[0-9]{1,18}", part)}
