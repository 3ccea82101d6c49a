from django.db import migrations, models

from console.online_indexes import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # the indexes are built while orders are written (PostgreSQL: CONCURRENTLY)

    dependencies = [
        ("liquidation", "0011_desk_copy"),
    ]

    operations = [
        AddIndexOnline(
            model_name="order",
            index=models.Index(fields=["source", "-created_at", "-id"], include=["desk"], name="order_by_source"),
        ),
        AddIndexOnline(
            model_name="order",
            index=models.Index(fields=["status", "-created_at", "-id"], include=["desk"], name="order_by_status"),
        ),
    ]
