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
