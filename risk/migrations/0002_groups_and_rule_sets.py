from django.db import migrations

GROUPS = {
    "RiskWarningFull": ["view_console", "act_console"],
    "RiskWarningReadOnly": ["view_console"],
}


def create_groups_and_rule_sets(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="risk", codename__in=codenames))

    RuleSet = apps.get_model("risk", "RuleSet")
    for kind in ("margin", "intraday", "cash"):
        RuleSet.objects.get_or_create(account_kind=kind)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups_and_rule_sets, remove_groups)]
