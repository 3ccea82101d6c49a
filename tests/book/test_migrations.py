"""The book's migrations do to a stored database what they say."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migrations import migrate, migrate_to_latest

BEFORE = [("book", "0005_book_values_bounded")]
AFTER = [("book", "0006_unique_in_any_case")]


@pytest.mark.django_db(transaction=True)
def test_numbers_that_differ_only_in_capitals_stop_the_migration_naming_them():
    apps = migrate(BEFORE)
    Account = apps.get_model("book", "Account")
    Account.objects.create(account_no="M1")
    Account.objects.create(account_no="m1")
    Account.objects.create(account_no="M2")
    try:
        with pytest.raises(RuntimeError, match=r"rename or merge them.*accounts 'M1', 'm1'$"):
            migrate(AFTER)
        Account.objects.filter(account_no="m1").delete()
        migrate(AFTER)
        Account = MigrationExecutor(connection).loader.project_state(AFTER).apps.get_model("book", "Account")
        assert sorted(Account.objects.values_list("account_no", flat=True)) == ["M1", "M2"]
    finally:
        Account.objects.filter(account_no__in=["M1", "m1", "M2"]).delete()
        migrate_to_latest()
