import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0003_account_search_indexes"),
    ]

    operations = [
        # The covering index first: the instrument's holders are never without an index.
        migrations.AddIndex(
            model_name="position",
            index=models.Index(fields=["instrument", "account"], include=("quantity",), name="position_holders"),
        ),
        migrations.RemoveIndex(
            model_name="position",
            name="position_by_instrument",
        ),
        migrations.AlterField(
            model_name="position",
            name="instrument",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="positions",
                to="book.instrument",
            ),
        ),
    ]
