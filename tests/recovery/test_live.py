"""Covered Call Recovery follows positions: an import or a fill opens or resolves a case at once, and
open pages hear of it."""

import asyncio
import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient
from django.urls import reverse

from console import push
from liquidation import services as liquidation
from recovery import live
from recovery.models import CoveredCallCase
from tests.liquidation.test_live import Reader
from tests.recovery.conftest import RECOVERY_BOOK

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trader(recovery_book):
    from tests.users import make_user

    return make_user("trader", "RiskWarningFull")


def test_an_import_with_a_new_short_call_opens_a_case_without_a_page_load(
    import_book, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        import_book(RECOVERY_BOOK)
    [case] = CoveredCallCase.objects.filter(resolved_at__isnull=True)
    assert case.account.account_no == "A1"

    book = copy.deepcopy(RECOVERY_BOOK)
    book["accounts"][0]["positions"] = [{"symbol": "TCH-C400", "quantity": -1}, {"symbol": "700.HK", "quantity": 100}]
    with django_capture_on_commit_callbacks(execute=True):
        import_book(book)  # now exactly covered
    case.refresh_from_db()
    assert case.resolved_at is not None


def test_a_fill_buying_back_the_calls_resolves_the_case_and_the_page_hears_it(trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    from book.models import Account
    from recovery import services

    services.follow_accounts([Account.objects.get(account_no="A1").pk])  # as an import would have
    case = CoveredCallCase.objects.get(resolved_at__isnull=True)
    account = case.account
    [order] = liquidation.place(user=trader, account=account, wanted=[liquidation.Wanted("TCH-C400", 3)])

    async def scenario():
        client = AsyncClient()
        await sync_to_async(client.force_login)(trader)
        response = await client.get(reverse("recovery:case-events"))
        assert response.status_code == 200
        reader = Reader(response)
        assert (await reader.chunk(5)).startswith("retry:")
        for _ in range(100):
            if push.hub(live.CASES).source != "none":
                break
            await asyncio.sleep(0.05)
        await sync_to_async(liquidation.record_fill)(
            order.pk, 3, Decimal("6"), datetime(2026, 12, 23, 2, 30, tzinfo=UTC), "fill-1"
        )
        chunk = await reader.chunk(5)
        while "event:" not in chunk:
            chunk = await reader.chunk(5)
        assert "event: cases" in chunk
        assert str(case.pk) in chunk
        await reader.close()

    async_to_sync(scenario)()
    case.refresh_from_db()
    assert case.resolved_at is not None


@pytest.mark.postgres
def test_a_change_s_follow_waits_for_a_writer_that_read_the_book_before_it(recovery_book):
    """A page holds the cases' lock, having read the book (A1 short of stock: a case to open); a fill then
    buys the stock and commits. The fill's follow waits for the page, then resolves what it opened."""
    import threading
    import time

    from django.db import connections
    from django.utils import timezone

    from book.models import Position
    from recovery import services

    [a1] = set(Position.objects.filter(account__account_no="A1").values_list("account", flat=True))
    CoveredCallCase.objects.all().delete()  # A1's short calls have just arrived: no case yet
    read_under_lock, fill_committed = threading.Event(), threading.Event()
    reads, result = [], {}

    def page_read():
        found = services.covered_calls_now()
        reads.append(found)
        if len(reads) == 2:  # the page's read under the lock: the fill commits before the page does
            read_under_lock.set()
            fill_committed.wait(10)
        return found

    def run(name, work):
        try:
            result[name] = work()
        finally:
            connections.close_all()

    page = threading.Thread(
        target=run, args=("page", lambda: services.sync_covered_calls(page_read, now=timezone.now()))
    )
    page.start()
    assert read_under_lock.wait(10)
    Position.objects.filter(account__account_no="A1", instrument__symbol="700.HK").update(quantity=300)  # the fill
    follow = threading.Thread(target=run, args=("follow", lambda: services.follow_accounts([a1])))
    follow.start()
    time.sleep(0.5)
    assert follow.is_alive()  # waiting for the page's lock, not answering from what it read alone
    fill_committed.set()
    page.join(20)
    follow.join(20)

    [opened] = result["page"]
    assert result["follow"] == [opened]  # the page opened a case from the book it read; the follow resolved it
    assert not CoveredCallCase.objects.filter(resolved_at__isnull=True).exists()
