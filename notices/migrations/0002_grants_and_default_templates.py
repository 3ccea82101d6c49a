"""Sending notices, granted to RiskWarningFull; and the default templates in the three languages."""

from django.db import migrations

from console.bootstrap import grant


def grant_send(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant(apps, "notices", {"RiskWarningFull": ["send_notice"]})


def default_templates(apps, schema_editor):
    from notices.defaults import default_templates as defaults

    NoticeTemplate = apps.get_model("notices", "NoticeTemplate")
    for kind, channel, language, subject, body in defaults():
        NoticeTemplate.objects.get_or_create(
            kind=kind, channel=channel, language=language, defaults={"subject": subject, "body": body}
        )


class Migration(migrations.Migration):
    dependencies = [("notices", "0001_initial"), ("console", "0002_groups_and_append_only_audit")]

    operations = [
        migrations.RunPython(grant_send, migrations.RunPython.noop),
        migrations.RunPython(default_templates, migrations.RunPython.noop),
    ]
