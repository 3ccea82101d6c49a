"""``__in_ids``: the same rows as ``__in``, on a key or a relation, on PostgreSQL and SQLite."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from book.models import Account, CashBalance
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_in_ids_finds_what_in_finds_on_a_key_and_on_a_relation():
    accounts = AccountFactory.create_batch(5)
    for account in accounts:
        CashBalance.objects.get_or_create(account=account, currency="HKD", defaults={"amount": Decimal("1")})
    wanted = [accounts[1].pk, accounts[3].pk, 10**12]
    assert set(Account.objects.filter(pk__in_ids=wanted)) == set(Account.objects.filter(pk__in=wanted))
    by_relation = CashBalance.objects.filter(account_id__in_ids=wanted).values_list("account_id", flat=True)
    assert sorted(by_relation) == sorted(wanted[:2])
    assert sorted(CashBalance.objects.filter(account__in_ids=wanted).values_list("account_id", flat=True)) == sorted(
        wanted[:2]
    )


def test_in_ids_across_a_reverse_relation():
    accounts = AccountFactory.create_batch(3)
    cash = [
        CashBalance.objects.get_or_create(account=account, currency="HKD", defaults={"amount": Decimal("1")})[0]
        for account in accounts
    ]
    found = Account.objects.filter(cash_balances__in_ids=[cash[0].pk, cash[2].pk, 10**12])
    assert sorted(found.values_list("pk", flat=True)) == sorted([accounts[0].pk, accounts[2].pk])


def test_in_ids_of_nothing_is_nothing_and_sends_no_query():
    AccountFactory()
    with CaptureQueriesContext(connection) as queries:
        assert list(Account.objects.filter(pk__in_ids=[])) == []
    assert len(queries) == 0


@pytest.mark.postgres
def test_in_ids_sends_one_array_on_postgresql():
    ids = list(range(1, 5001))
    with CaptureQueriesContext(connection) as queries:
        list(Account.objects.filter(pk__in_ids=ids))
    assert "= ANY(" in queries[0]["sql"]
    assert " IN (" not in queries[0]["sql"]


@pytest.mark.postgres
def test_in_ids_sends_the_keys_type_so_a_filter_hashes_the_list():
    """A list of another integer type than the key's (the driver sends small numbers as int2 or int4)
    is compared with every row element by element; one of the key's own type is hashed."""
    ids = list(range(1, 100))
    with connection.cursor() as cursor:  # a scan that filters with the list, not an index probe per id
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    for queryset in (
        Account.objects.filter(pk__in_ids=ids),
        CashBalance.objects.filter(account_id__in_ids=ids),
        CashBalance.objects.filter(account__in_ids=ids),
        Account.objects.filter(cash_balances__in_ids=ids),
    ):
        plan = queryset.explain()
        assert "::bigint[]" in plan, plan
        assert "::integer[]" not in plan, plan
        assert "::smallint[]" not in plan, plan


def test_in_ids_refuses_what_is_not_an_integer():
    with pytest.raises((TypeError, ValueError)):
        list(Account.objects.filter(pk__in_ids=["1; DROP TABLE book_account"]))
