"""A call carries its account's desk, so a trader's lists filter the calls' table alone (joined to the
accounts, every list query read all 100,000 of them). The database keeps it in step: a trigger sets it
from the account whenever a call is written or its account or desk is changed, and another follows an
account that moves desk. The tests of ``tests/risk/test_call_desk.py`` fail if a later migration loses
them (SQLite drops a table's triggers when a migration rebuilds the table)."""

import django.db.models.deletion
from django.db import migrations, models

from book.desk_copies import DeskCopy, keep_desk

CALLS = DeskCopy(
    table="risk_margincall",
    name="calls",
    account="{row}.account_id",
    path="account_id",
    rows_of_account="account_id = NEW.id",
)
# Read by the migrations that remake these triggers (0011, 0017).
POSTGRESQL, SQLITE, SQLITE_DROP = CALLS.postgresql(), CALLS.sqlite(), CALLS.sqlite_drop()


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0003_account_search_indexes"),
        ("risk", "0008_figures_changed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="margincall",
            name="desk",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.desk",
                verbose_name="desk",
            ),
        ),
        keep_desk(CALLS),
    ]
