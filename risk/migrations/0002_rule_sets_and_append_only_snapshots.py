"""A rule set per account kind, and call snapshots kept as written."""

from django.db import migrations

from console.immutable import protect
from risk.bootstrap import ensure_rule_sets


def create_rule_sets(apps, schema_editor):
    ensure_rule_sets(apps)


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial"), ("console", "0002_groups_and_append_only_audit")]

    operations = [
        migrations.RunPython(create_rule_sets, migrations.RunPython.noop),
        protect("risk_callsnapshot"),
    ]
