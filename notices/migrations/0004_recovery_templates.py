"""The default stock-recovery templates in the three languages."""

from django.db import migrations


def recovery_templates(apps, schema_editor):
    from notices.defaults import default_templates

    NoticeTemplate = apps.get_model("notices", "NoticeTemplate")
    for kind, channel, language, subject, body in default_templates():
        if kind == "recovery":
            NoticeTemplate.objects.get_or_create(
                kind=kind, channel=channel, language=language, defaults={"subject": subject, "body": body}
            )


class Migration(migrations.Migration):
    dependencies = [("notices", "0003_account_messages")]

    operations = [migrations.RunPython(recovery_templates, migrations.RunPython.noop)]
