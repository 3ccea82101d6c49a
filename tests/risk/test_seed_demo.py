"""seed_demo loads the demo book: never over a book that is not a demo's."""

import pytest
from django.core.management import CommandError, call_command

from book.models import Account, Instrument

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_a_book_that_holds_accounts_unless_in_demo_mode(book, settings):
    settings.DEMO = False
    prices = dict(Instrument.objects.values_list("symbol", "price"))

    with pytest.raises(CommandError, match=r"The book already holds 5 account\(s\): seed_demo writes demo prices"):
        call_command("seed_demo", "--accounts", "1")

    assert dict(Instrument.objects.values_list("symbol", "price")) == prices
    assert Account.objects.count() == 5


def test_seed_demo_loads_an_empty_book(settings, tmp_path, capsys):
    settings.DEMO = False
    call_command("seed_demo", "--accounts", "3")

    assert Account.objects.count() >= 3
    assert "no users created" in capsys.readouterr().out
