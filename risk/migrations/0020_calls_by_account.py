from django.db import migrations, models

from console.online_indexes import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # the index is built while the calls are written (PostgreSQL: CONCURRENTLY)

    dependencies = [
        ("risk", "0019_lists_read_in_order"),
    ]

    operations = [
        AddIndexOnline(
            model_name="margincall",
            index=models.Index(fields=["account", "closed_at"], name="margin_call_by_account"),
        ),
    ]
