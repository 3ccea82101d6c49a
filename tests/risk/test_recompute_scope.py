"""What a recompute of some accounts reports, and when the calls it touches are dated, on PostgreSQL:
there, recomputing some accounts from their book first follows every price that moved, for every holder.
And a price that cannot be valued is never taken as followed."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from book import pending
from book.models import Account, CashBalance, FxRate, Instrument, Position
from risk import services
from risk.models import AccountRisk, MarginCall

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def holder_of(stock, account_no, *, cash="0", quantity=1000, currency="HKD"):
    account = Account.objects.create(account_no=account_no, credit_limit=Decimal("1000000"))
    Position.objects.create(account=account, instrument=stock, quantity=quantity)
    CashBalance.objects.create(account=account, currency=currency, amount=Decimal(cash))
    return account


def test_another_holder_that_cannot_be_stored_does_not_fail_the_accounts_asked_for(caplog):
    stock = Instrument.objects.create(symbol="S", price=Decimal("10"), lot_size=1)
    asked = holder_of(stock, "X1")
    broken = holder_of(stock, "Y1", cash="1", currency="EUR")  # no EUR rate: never stored
    assert services.recompute_accounts(account_ids=[broken.pk]).failed == {"Y1": "no FX rate for currency 'EUR'"}
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("12"))  # a tick whose pass has not run

    result = services.recompute_accounts(account_ids=[asked.pk])

    assert result.failed == {}
    assert AccountRisk.objects.get(account=asked).long_mv == Decimal("12000.00")
    assert "Y1: no FX rate for currency 'EUR'" in caplog.text  # alerted on all the same


def test_another_holders_call_opened_on_the_way_is_dated_now_not_at_a_replayed_books_time():
    stock = Instrument.objects.create(symbol="S", price=Decimal("100"), lot_size=1, mm_rate=Decimal("0.5"))
    asked = holder_of(stock, "X2", cash="-40000")
    other = holder_of(stock, "Y2", cash="-40000")
    services.recompute_accounts(account_ids=[asked.pk, other.pk])
    assert not MarginCall.objects.exists()
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("70"))  # a tick whose pass has not run
    CashBalance.objects.filter(account=asked).update(amount=Decimal("0"))
    before = timezone.now()
    past = before - dt.timedelta(days=3)

    services.recompute_accounts(account_ids=[asked.pk], at=past)  # a book of three days ago, replayed

    call = MarginCall.objects.get(account=other)  # 70,000 x 50% margin, 40,000 borrowed: called
    assert call.triggered_at >= before
    assert not MarginCall.objects.filter(account=asked).exists()


def test_a_price_that_cannot_be_valued_is_not_taken_as_followed():
    FxRate.objects.create(currency="USD", rate=Decimal("7.8"))
    usd = Instrument.objects.create(symbol="U", price=Decimal("10"), lot_size=1, currency="USD")
    holder = holder_of(usd, "Z1", quantity=10)
    services.recompute_accounts(account_ids=[holder.pk])
    FxRate.objects.filter(currency="USD").delete()
    assert services.recompute_accounts(account_ids=services.affected_accounts(currencies=["USD"])).failed
    Instrument.objects.filter(pk=usd.pk).update(price=Decimal("20"))
    pending.mark([usd.pk], now=timezone.now())

    result = services.follow_prices(instrument_ids=[usd.pk])

    assert result.failed == {"Z1": "no FX rate for currency 'USD'"}
    assert [mark.instrument_id for mark in pending.waiting()] == [usd.pk]  # left for the sweep


def test_accounts_asked_for_in_a_later_chunk_keep_their_time_and_cause():
    stock = Instrument.objects.create(symbol="S", price=Decimal("100"), lot_size=1, mm_rate=Decimal("0.5"))
    first = holder_of(stock, "X3", cash="-40000")
    second = holder_of(stock, "Y3", cash="-40000")
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("70"))
    services.recompute_accounts(account_ids=[first.pk, second.pk], at=timezone.now() - dt.timedelta(hours=2))
    call = MarginCall.objects.get(account=second)
    CashBalance.objects.filter(account=second).update(amount=Decimal("0"))  # a deposit meets the call
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("71"))  # a tick whose pass has not run
    deposited = timezone.now() - dt.timedelta(hours=1)  # after the call opened

    result = services.recompute_accounts(
        account_ids=[first.pk, second.pk], at=deposited, causes={second.pk: "deposit"}, chunk_size=1
    )

    call.refresh_from_db()
    assert (call.close_cause, call.closed_at) == ("deposit", deposited)
    assert result.accounts == 2


def test_the_counts_are_of_the_accounts_asked_for():
    stock = Instrument.objects.create(symbol="S", price=Decimal("10"), lot_size=1)
    asked, *others = [holder_of(stock, f"C{n}") for n in range(4)]
    services.recompute_accounts(account_ids=[asked.pk, *(other.pk for other in others)])
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("11"))  # all four holders move

    result = services.recompute_accounts(account_ids=[asked.pk])

    assert (result.accounts, result.positions, result.moved) == (1, 1, 1)
    assert {risk.long_mv for risk in AccountRisk.objects.all()} == {Decimal("11000.00")}


def test_a_price_that_cannot_be_valued_holds_back_only_its_own_mark():
    FxRate.objects.create(currency="USD", rate=Decimal("7.8"))
    usd = Instrument.objects.create(symbol="U", price=Decimal("10"), lot_size=1, currency="USD")
    hkd = Instrument.objects.create(symbol="H", price=Decimal("10"), lot_size=1)
    holder_of(usd, "Z2", quantity=10)
    other = holder_of(hkd, "Z3", quantity=10)
    services.recompute_accounts()
    FxRate.objects.filter(currency="USD").delete()
    Instrument.objects.filter(pk__in=[usd.pk, hkd.pk]).update(price=Decimal("20"))
    pending.mark([usd.pk, hkd.pk], now=timezone.now())

    result = services.follow_prices(instrument_ids=[usd.pk, hkd.pk])

    assert result.failed == {"Z2": "no FX rate for currency 'USD'"}
    assert [mark.instrument_id for mark in pending.waiting()] == [usd.pk]
    assert AccountRisk.objects.get(account=other).long_mv == Decimal("200.00")
