"""An auto-liquidation note is kept in each of the console's languages. SQLite rebuilds the calls' table
to change it, which its desk triggers (0009) do not survive: they are dropped first and made again after."""

import importlib

from django.conf import settings
from django.db import migrations, models

call_desk = importlib.import_module("risk.migrations.0009_call_desk")


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in call_desk.SQLITE_DROP:
            schema_editor.execute(statement)


def create_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in call_desk.SQLITE:
            schema_editor.execute(statement)


def into_languages(apps, schema_editor):
    """A note written before was written in the default language: it is kept as that language's text."""
    MarginCall = apps.get_model("risk", "MarginCall")
    calls = list(MarginCall.objects.exclude(auto_liquidation_note="").only("pk", "auto_liquidation_note"))
    for call in calls:
        call.auto_liquidation_notes = {settings.LANGUAGE_CODE: call.auto_liquidation_note}
    MarginCall.objects.bulk_update(calls, ["auto_liquidation_notes"], batch_size=1000)


def into_one_language(apps, schema_editor):
    MarginCall = apps.get_model("risk", "MarginCall")
    calls = list(MarginCall.objects.exclude(auto_liquidation_notes={}).only("pk", "auto_liquidation_notes"))
    for call in calls:
        texts = call.auto_liquidation_notes
        call.auto_liquidation_note = (texts.get(settings.LANGUAGE_CODE) or next(iter(texts.values()), ""))[:300]
    MarginCall.objects.bulk_update(calls, ["auto_liquidation_note"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("risk", "0016_price_deviation_limit")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AddField(
            model_name="margincall",
            name="auto_liquidation_notes",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(into_languages, into_one_language),
        migrations.RemoveField(model_name="margincall", name="auto_liquidation_note"),
        migrations.RenameField(
            model_name="margincall", old_name="auto_liquidation_notes", new_name="auto_liquidation_note"
        ),
        migrations.AlterField(
            model_name="margincall",
            name="auto_liquidation_note",
            field=models.JSONField(blank=True, default=dict, verbose_name="auto-liquidation outcome"),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
