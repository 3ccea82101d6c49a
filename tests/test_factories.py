"""The factories make what the engine would: an account's figures, and a call opened by the recompute."""

from decimal import Decimal

import pytest

from risk.models import AccountRisk
from tests.factories import AccountFactory, InstrumentFactory, open_call

pytestmark = pytest.mark.django_db


def test_an_account_with_positions_has_its_figures():
    stock = InstrumentFactory(price=Decimal("20"))

    account = AccountFactory(book__cash="1000", book__positions={stock: 500})

    figures = AccountRisk.objects.get(account=account)
    assert (figures.long_mv, figures.equity, figures.call_amount) == (
        Decimal("10000.00"),
        Decimal("11000.00"),
        Decimal("0.00"),
    )


def test_an_open_call_is_the_one_the_recompute_opened():
    call = open_call(account_no="C1")

    assert (call.account.account_no, call.status, call.call_type) == ("C1", "open", "margin_call")
    assert call.call_amount == Decimal("10000.00")
    assert call.snapshots.filter(kind="trigger").exists()
