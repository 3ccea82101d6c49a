"""Orders as a live feed: the Liquidation Orders page and a call's details hear their orders change
(placed, filled, cancelled, rejected), each only for its user's desks and, on the details, its call."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from console import push
from liquidation import live, services
from liquidation.models import Order
from risk.models import MarginCall
from tests.users import client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def holding(settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the market never fills by itself


def call_of(account_no) -> MarginCall:
    return MarginCall.objects.select_related("account").get(account__account_no=account_no)


def place(user, account_no, symbol, quantity) -> Order:
    call = call_of(account_no)
    [order] = services.place(user=user, account=call.account, call=call, wanted=[services.Wanted(symbol, quantity)])
    return order


class Reader:
    def __init__(self, response):
        self.response = response
        self.chunks = aiter(response)
        self.reading = None  # the read under way: a timeout leaves it running (cancelling it ends the stream)

    async def chunk(self, timeout) -> str:
        if self.reading is None:
            self.reading = asyncio.ensure_future(anext(self.chunks))
        done, _pending = await asyncio.wait({self.reading}, timeout=timeout)
        if not done:
            raise TimeoutError
        reading, self.reading = self.reading, None
        return reading.result().decode()

    async def ids(self, timeout=5.0) -> list[int]:
        while True:
            chunk = await self.chunk(timeout)
            if "event:" in chunk:
                assert "event: orders" in chunk, chunk
                data = next(line for line in chunk.splitlines() if line.startswith("data:"))
                return json.loads(data.removeprefix("data:"))["orders"]

    async def drain(self, quiet=1.0) -> set[int]:
        """Every id told until the stream has been quiet for ``quiet`` seconds (a placed order is told
        once or twice: placed, then submitted)."""
        seen = set()
        while True:
            try:
                seen |= set(await self.ids(timeout=quiet))
            except TimeoutError:
                return seen

    async def close(self):
        if self.reading is not None:
            self.reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.reading
        await self.chunks.aclose()
        request_finished.disconnect(close_old_connections)
        try:
            self.response.close()
        finally:
            request_finished.connect(close_old_connections)
        await asyncio.sleep(0)


async def open_stream(user, **query) -> Reader:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    url = reverse("liquidation:order-events")
    response = await client.get(url, query)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/event-stream"
    reader = Reader(response)
    assert (await reader.chunk(5)).startswith("retry:")
    return reader


async def listening():
    for _ in range(100):
        if push.hub(live.ORDERS).source != "none":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the orders hub never started listening")


def test_orders_pages_hear_their_orders_change(book, trader, desk_trader):
    m1, _t2 = call_of("M100001"), call_of("T2")

    async def scenario():
        every = await open_stream(trader)
        hk2 = await open_stream(desk_trader)
        one_call = await open_stream(trader, call=str(m1.pk))
        await listening()

        order = await sync_to_async(place)(trader, "M100001", "A.HK", 100)
        assert await every.drain() == {order.pk}
        assert await one_call.drain() == {order.pk}
        assert await hk2.drain() == set()  # another desk's order: not even its id

        other = await sync_to_async(place)(trader, "T2", "S.HK", 100)
        assert await hk2.drain() == {other.pk}
        assert await every.drain() == {other.pk}
        assert await one_call.drain() == set()  # another call's order

        fill_time = datetime(2026, 12, 23, 2, 30, tzinfo=UTC)
        await sync_to_async(services.record_fill)(order.pk, 100, Decimal("300"), fill_time, "fill-1")
        assert await one_call.drain() == {order.pk}
        assert await every.drain() == {order.pk}
        for reader in (every, hk2, one_call):
            await reader.close()

    async_to_sync(scenario)()


def test_a_page_rendered_before_a_change_catches_it_up(book, trader):
    order = place(trader, "M100001", "A.HK", 100)
    rendered = int(timezone.now().timestamp() * 1000)
    services.mark_rejected(order.pk, "no such stock at the exchange")

    async def scenario():
        reader = await open_stream(trader, since=str(rendered))
        assert await reader.ids() == [order.pk]
        await reader.close()

    async_to_sync(scenario)()


def test_a_malformed_call_is_a_404_and_nothing_is_opened(book, trader):
    client = client_for(trader)
    for bad in ("x", "-1", "1" * 40, "1\x00"):
        assert client.get(reverse("liquidation:order-events"), {"call": bad}).status_code == 404


def test_another_desk_s_call_or_an_unknown_one_is_a_404(book, desk_trader):
    """desk_trader sees desk HK2 only; M100001's call is on HK1."""
    call = MarginCall.objects.get(account__account_no="M100001")
    client = client_for(desk_trader)

    assert client.get(reverse("liquidation:order-events"), {"call": call.pk}).status_code == 404
    assert client.get(reverse("liquidation:order-events"), {"call": call.pk + 1000}).status_code == 404


def test_the_refetched_fragments_mark_the_changed_orders(book, trader):
    order = place(trader, "M100001", "A.HK", 100)
    client = client_for(trader)
    page = client.get(reverse("liquidation:orders"), {"changed": f"{order.pk},junk"}, headers={"HX-Request": "true"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-order="{order.pk}"' in html
    assert 'class="updated"' in html
    assert "<html" not in html  # the list alone, not the page

    call = call_of("M100001")
    part = client.get(
        reverse("liquidation:call-orders", args=[call.pk]), {"changed": str(order.pk)}, headers={"HX-Request": "true"}
    )
    html = part.content.decode()
    assert part.status_code == 200
    assert f'<tr data-order="{order.pk}" class="updated">' in html
    assert 'id="call-status"' in html
    assert 'hx-swap-oob="true"' in html
    assert 'data-testid="left-after-working"' in html


def test_the_desk_filter_keeps_one_desks_orders(book, trader):
    mine = place(trader, "M100001", "A.HK", 100)
    other = place(trader, "T2", "S.HK", 100)
    client = client_for(trader)
    html = client.get(reverse("liquidation:orders"), {"desk": "HK2"}).content.decode()
    assert f'data-order="{other.pk}"' in html
    assert f'data-order="{mine.pk}"' not in html
    refused = client.get(reverse("liquidation:orders"), {"desk": "NOPE"})
    assert refused.status_code == 200
    assert f'data-order="{mine.pk}"' in refused.content.decode()
