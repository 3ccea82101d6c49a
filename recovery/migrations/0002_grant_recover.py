"""Acting on stock recovery, granted to RiskWarningFull."""

from django.db import migrations

from console.bootstrap import grant


def grant_recover(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant(apps, "recovery", {"RiskWarningFull": ["recover"]})


class Migration(migrations.Migration):
    dependencies = [("recovery", "0001_initial"), ("console", "0002_groups_and_append_only_audit")]

    operations = [migrations.RunPython(grant_recover, migrations.RunPython.noop)]
