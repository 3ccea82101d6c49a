"""Live event streams: async, fanned out by one hub per process, filtered by kind and desk, capped per
user, freed when the page goes away, and never lost between the page's render and the stream's start."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from console import push
from risk import live
from risk.models import MarginCall
from tests.books import one_stock_book
from tests.users import client_for, make_user

# A stream gives its database connection back as soon as it opens, as a request does when it ends:
# the tests commit, as the server would.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)  # M100001, desk HK1
    import_book(one_stock_book(desk="HK2", account_no="T2"))
    import_book(one_stock_book(desk="HK2", account_no="D2", kind="intraday"))


def call_of(account_no) -> MarginCall:
    return MarginCall.objects.get(account__account_no=account_no)


def touch(*calls) -> None:
    """A change to these calls, told the way writers tell it: a new ``updated_at`` and a publish."""
    MarginCall.objects.filter(pk__in=[call.pk for call in calls]).update(updated_at=timezone.now())
    live.publish([call.pk for call in calls])


def events_url(kind="margin", **query):
    url = reverse("risk:call-events", args=[kind])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


class Reader:
    """The text of one open stream, read event by event (comments and the retry line skipped)."""

    def __init__(self, response):
        self.response = response
        self.chunks = aiter(response)

    async def event(self, timeout=5.0) -> str:
        while True:
            chunk = (await asyncio.wait_for(anext(self.chunks), timeout)).decode()
            if "event:" in chunk:
                return chunk

    async def nothing(self, seconds=1.0) -> bool:
        try:
            event = await self.event(timeout=seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"an event came: {event!r}")

    async def close(self):
        """What the server does when the browser goes away: stop reading, close the response."""
        await self.chunks.aclose()
        # The test's database connection stays open, as Django's test client keeps it.
        request_finished.disconnect(close_old_connections)
        try:
            self.response.close()
        finally:
            request_finished.connect(close_old_connections)
        await asyncio.sleep(0)  # the hub hears of it on the event loop


async def open_stream(user, kind="margin", **query) -> Reader:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    response = await client.get(events_url(kind, **query))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/event-stream"
    assert {"no-store", "private"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    reader = Reader(response)
    first = await asyncio.wait_for(anext(reader.chunks), 5)
    assert first.startswith(b"retry:")
    return reader


async def hub_listening():
    """Until the hub has its source (subscribed to Redis, or polling the database)."""
    for _ in range(100):
        if live.hub().source != "none":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hub never started listening")


def ids_in(event: str) -> list[int]:
    import json

    data = next(line for line in event.splitlines() if line.startswith("data:"))
    return json.loads(data.removeprefix("data:"))["calls"]


def test_each_stream_hears_only_its_pages_kind_and_its_users_desks(book, trader, desk_trader):
    m1, t2, d2 = call_of("M100001"), call_of("T2"), call_of("D2")

    async def scenario():
        everything = await open_stream(trader)
        hk2_only = await open_stream(desk_trader)
        intraday = await open_stream(trader, kind="intraday")
        assert len(live.hub().streams) == 3
        await hub_listening()

        await sync_to_async(touch)(m1, t2, d2)

        assert sorted(ids_in(await everything.event())) == sorted([m1.pk, t2.pk])
        assert ids_in(await hk2_only.event()) == [t2.pk]
        assert ids_in(await intraday.event()) == [d2.pk]

        await sync_to_async(touch)(m1)
        assert ids_in(await everything.event()) == [m1.pk]
        assert await hk2_only.nothing()  # another desk's call: not even its id
        for reader in (everything, hk2_only, intraday):
            await reader.close()

    async_to_sync(scenario)()


def test_a_closed_page_frees_its_stream_at_once(book, trader):
    async def scenario():
        reader = await open_stream(trader)
        hub = live.hub()
        assert len(hub.streams) == 1
        assert hub.task is not None

        await reader.close()

        assert hub.streams == set()
        assert hub.per_user == {}
        assert hub.task is None  # nobody listens: the subscription is dropped too

    async_to_sync(scenario)()


def test_a_page_that_goes_away_while_its_stream_waits_frees_it(book, trader):
    async def scenario():
        reader = await open_stream(trader)
        waiting = asyncio.ensure_future(reader.event(timeout=30))
        await asyncio.sleep(0.1)
        waiting.cancel()  # the server cancels the response when the client disconnects
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert live.hub().streams == set()

    async_to_sync(scenario)()


def test_streams_per_user_are_capped(book, trader, viewer, settings):
    settings.EVENT_STREAMS_PER_USER = 2

    async def scenario():
        first, second = await open_stream(trader), await open_stream(trader)
        client = AsyncClient()
        await sync_to_async(client.force_login)(trader)
        refused = await client.get(events_url())
        assert refused.status_code == 429
        assert "no-store" in refused["Cache-Control"]
        assert "Too many open pages" in refused.content.decode()
        other_user = await open_stream(viewer)  # the cap is per user

        await first.close()
        third = await open_stream(trader)  # a closed page gives its place back
        for reader in (second, other_user, third):
            await reader.close()

    async_to_sync(scenario)()


def test_a_change_between_render_and_stream_is_not_lost(book, trader):
    m1 = call_of("M100001")
    MarginCall.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    rendered = timezone.now() - timedelta(seconds=30)
    MarginCall.objects.filter(pk=m1.pk).update(updated_at=timezone.now())
    millis = int(rendered.timestamp() * 1000)

    async def scenario():
        reader = await open_stream(trader, since=millis)
        assert ids_in(await reader.event()) == [m1.pk]
        await reader.close()

        # On a reconnect the browser sends the last event's id; a page that is up to date hears nothing.
        client = AsyncClient()
        await sync_to_async(client.force_login)(trader)
        last_event = str(int(time.time() * 1000) + 15_000)  # past the overlap a catch-up looks back
        again = Reader(await client.get(events_url(since=millis), headers={"Last-Event-ID": last_event}))
        assert await again.nothing(seconds=0.5)
        await again.close()

    async_to_sync(scenario)()


@pytest.mark.parametrize("since", ["0", "99999999999999", "999999999999999", "9" * 400, "abc", "1e5", "²", "-5"])
def test_a_since_the_stream_cannot_use_makes_the_page_refetch_whole(book, trader, since):
    async def scenario():
        reader = await open_stream(trader, since=since)
        assert ids_in(await reader.event()) == []  # the page refetches its rows, marking none
        await reader.close()

    async_to_sync(scenario)()


def test_without_redis_the_hub_polls_the_database(book, trader, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # unreachable: the hub falls back to polling
    m1 = call_of("M100001")

    async def scenario():
        reader = await open_stream(trader)
        for _ in range(100):
            if live.hub().source == "database":
                break
            await asyncio.sleep(0.05)
        assert live.hub().source == "database"
        await asyncio.sleep(push.POLL_SECONDS)
        await sync_to_async(MarginCall.objects.filter(pk=m1.pk).update)(updated_at=timezone.now())
        assert ids_in(await reader.event()) == [m1.pk]
        await reader.close()

    async_to_sync(scenario)()


def test_publishing_while_redis_is_away_is_said_once_as_an_outage_and_once_when_over(
    book, settings, own_redis, caplog, monkeypatch
):
    _server, url = own_redis
    m1 = call_of("M100001")
    monkeypatch.setattr(push, "redis_away", push.Outage(remind_seconds=300))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # unreachable
    push._redis.cache_clear()

    for _ in range(3):
        live.publish([m1.pk])

    away = [r for r in caplog.records if "not told of changes" in r.getMessage()]
    assert [(r.name, r.levelname, r.exc_info) for r in away] == [("margincall.alerts", "ERROR", None)]  # once
    monkeypatch.setattr(push, "REDIS_RETRY_SECONDS", 0)  # its next try is due
    settings.REDIS_URL = url
    push._redis.cache_clear()
    live.publish([m1.pk])
    assert any("told of changes again" in r.getMessage() for r in caplog.records)
    push._redis.cache_clear()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of the test's own, to stop and resume (the shared one is never touched)."""
    import shutil
    import socket
    import subprocess
    import time

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield server, f"redis://127.0.0.1:{port}/0"
    server.kill()
    server.wait()


def test_a_redis_that_hangs_is_taken_as_gone_and_the_streams_poll_until_it_answers(book, trader, settings, own_redis):
    import signal

    server, settings.REDIS_URL = own_redis
    m1 = call_of("M100001")

    async def source_becomes(source, seconds):
        for _ in range(int(seconds / 0.1)):
            if live.hub().source == source:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the hub's source is {live.hub().source}, not {source}, after {seconds} s")

    async def scenario():
        reader = await open_stream(trader)
        await source_becomes("redis", 5)
        server.send_signal(signal.SIGSTOP)  # its socket stays open; it answers nothing
        try:
            await source_becomes("database", 3 * push.LISTEN_CHECK_SECONDS)
            await asyncio.sleep(push.POLL_SECONDS)
            await sync_to_async(MarginCall.objects.filter(pk=m1.pk).update)(updated_at=timezone.now())
            assert ids_in(await reader.event()) == [m1.pk]  # told by the poll while Redis hangs
            await asyncio.sleep(push.REDIS_RETRY_SECONDS + push.LISTEN_CHECK_SECONDS)  # a retry meanwhile
            await source_becomes("database", push.LISTEN_CHECK_SECONDS)
            await sync_to_async(MarginCall.objects.filter(pk=m1.pk).update)(updated_at=timezone.now())
            assert ids_in(await reader.event(timeout=push.LISTEN_CHECK_SECONDS + 2)) == [m1.pk]
        finally:
            server.send_signal(signal.SIGCONT)
        await source_becomes("redis", push.REDIS_RETRY_SECONDS + 5)
        await reader.close()

    async_to_sync(scenario)()


def test_who_may_open_a_stream(book, trader):
    url = events_url()
    anonymous = Client().get(url)
    assert (anonymous.status_code, anonymous.url.split("?")[0]) == (302, reverse("login"))
    assert client_for(make_user("nobody")).get(url).status_code == 403
    assert client_for(trader).get(events_url("cash")).status_code == 404


def test_a_page_gone_before_its_stream_starts_leaves_nothing_behind(book, trader):
    async def scenario():
        client = AsyncClient()
        await sync_to_async(client.force_login)(trader)
        response = await client.get(events_url())  # answered, but the body is never sent
        assert response.status_code == 200
        assert live.hub().streams == set()
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)

    async_to_sync(scenario)()


def test_two_pages_racing_for_the_last_place_get_one_stream_and_one_refusal(book, trader, settings):
    settings.EVENT_STREAMS_PER_USER = 1

    async def scenario():
        client = AsyncClient()
        await sync_to_async(client.force_login)(trader)
        first, second = await client.get(events_url()), await client.get(events_url())  # both saw room
        winner, loser = Reader(first), Reader(second)
        assert (await anext(winner.chunks)).startswith(b"retry: 2000")
        assert await anext(loser.chunks) == b"retry: 60000\n\n"  # no 500: told, and not to retry soon
        assert (await anext(loser.chunks)).startswith(b"event: refused")
        assert len(live.hub().streams) == 1
        await winner.close()

    async_to_sync(scenario)()


@pytest.mark.parametrize("when", ["before the catch-up reads", "after the catch-up read"])
def test_a_change_racing_the_catch_up_reaches_the_page(book, trader, monkeypatch, when):
    from risk import call_views

    m1 = call_of("M100001")
    MarginCall.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    since = int((timezone.now() - timedelta(seconds=30)).timestamp() * 1000)
    read = call_views._changed_for

    def racing(*args):
        if when.startswith("before"):
            touch(m1)
            return read(*args)
        found = read(*args)
        touch(m1)
        return found

    monkeypatch.setattr(call_views, "_changed_for", racing)

    async def scenario():
        reader = await open_stream(trader, since=since)  # a cold hub: the first page of the process
        assert ids_in(await reader.event()) == [m1.pk]
        await reader.close()

    async_to_sync(scenario)()


def test_consoles_on_other_databases_do_not_share_a_channel(monkeypatch):
    from django.conf import settings

    from console.push import Feed

    feed = Feed("calls", changes_of=list, changed_since=list)
    here = feed.channel
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", "other")  # no query runs meanwhile

    assert feed.channel != here
    assert feed.channel == "margincall:other:calls"
