"""Account numbers as a person types them into a command: in any capitals, as the book holds keys."""

import pytest

from book.models import Account

pytestmark = pytest.mark.django_db


def test_an_account_number_is_found_in_any_capitals_including_other_letters_as_stored():
    Account.objects.create(account_no="M1")
    Account.objects.create(account_no="δέλτα")

    named, unknown = Account.objects.named(["m1", "δέλτα", "NOPE", "x" * 100])

    assert {number: account.account_no for number, account in named.items()} == {"m1": "M1", "δέλτα": "δέλτα"}
    assert unknown == ["'NOPE'", repr("x" * 40)]
