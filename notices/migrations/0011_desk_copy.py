"""A delivery carries its account's desk, so a desk's Notices list reads the deliveries' table alone: its
pages in the list's order, the desk read from the index. The database keeps it in step (book.desk_copies);
the tests of ``tests/book/test_desk_copies.py`` fail if a later migration loses the triggers."""

import django.db.models.deletion
from django.db import migrations, models

from book.desk_copies import DeskCopy, keep_desk

DELIVERIES = DeskCopy(
    table="notices_delivery",
    name="deliveries",
    account="(SELECT account_id FROM notices_notice WHERE id = {row}.notice_id)",
    path="notice_id",
    rows_of_account="notice_id IN (SELECT id FROM notices_notice WHERE account_id = NEW.id)",
    lock_account=True,
    parent="notices_notice",
    rows_of_parent="notice_id = NEW.id",
)


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0010_deliveries_newest_first"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_newest_first",
        ),
        migrations.AddField(
            model_name="delivery",
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
        keep_desk(DELIVERIES),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["-queued_at", "-id"], include=("desk",), name="delivery_newest_first"),
        ),
    ]
