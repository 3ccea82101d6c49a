"""An order carries its account's desk, so a desk's Orders list reads the orders' table alone: its pages
in the list's order, the desk read from the index. The database keeps it in step (book.desk_copies); the
tests of ``tests/book/test_desk_copies.py`` fail if a later migration loses the triggers."""

import django.db.models.deletion
from django.db import migrations, models

from book.desk_copies import DeskCopy, keep_desk

ORDERS = DeskCopy(
    table="liquidation_order",
    name="orders",
    account="{row}.account_id",
    path="account_id",
    rows_of_account="account_id = NEW.id",
    lock_account=True,
)


class Migration(migrations.Migration):
    dependencies = [
        ("liquidation", "0010_working_orders_counted"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="order",
            name="order_newest_first",
        ),
        migrations.AddField(
            model_name="order",
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
        keep_desk(ORDERS),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["-created_at", "-id"], include=("desk",), name="order_newest_first"),
        ),
    ]
