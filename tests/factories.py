"""Factories for tests that need a book without a book file: an account with positions, an open call.

Records are written through the models and figures and calls through the real recompute, so a
factory's call is what the engine would open, never a row made up by hand."""

from decimal import Decimal

import factory

from book.models import Account, CashBalance, Desk, Instrument, Position
from risk import services
from risk.models import MarginCall


class DeskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Desk
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"D{n}")
    name = factory.LazyAttribute(lambda desk: f"Desk {desk.code}")


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"{n + 1}.HK")
    name = factory.LazyAttribute(lambda instrument: f"Stock {instrument.symbol}")
    lot_size = 100
    price = Decimal("100")
    im_rate, mm_rate, fm_rate = Decimal("0.6"), Decimal("0.5"), Decimal("0.4")


class AccountFactory(factory.django.DjangoModelFactory):
    """A margin account; ``cash`` (HKD) and ``positions`` ({instrument: quantity}) set its book, and
    its figures are computed."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    account_no = factory.Sequence(lambda n: f"F{100000 + n}")
    name = factory.Sequence(lambda n: f"Client {n}")
    desk = factory.SubFactory(DeskFactory, code="HK1")
    credit_limit = Decimal("1000000")

    @factory.post_generation
    def book(account, create, extracted, cash=Decimal("0"), positions=None, **kwargs):
        if not create:
            return
        CashBalance.objects.create(account=account, currency="HKD", amount=Decimal(cash))
        for instrument, quantity in (positions or {}).items():
            Position.objects.create(account=account, instrument=instrument, quantity=quantity)
        services.recompute_accounts(account_ids=[account.pk])


def open_call(**account) -> MarginCall:
    """An account whose book is short, and the call the recompute opened for it: 1,000 shares at 100
    with cash -60,000 leave equity 40,000 against MM 50,000, a margin call of 10,000."""
    stock = InstrumentFactory()
    defaults = {"book__cash": "-60000", "book__positions": {stock: 1000}}
    holder = AccountFactory(**(defaults | account))
    return MarginCall.objects.get(account=holder, closed_at__isnull=True)
