"""The groups and rule sets every installation has. Created by migration 0002 and restored after any
migrate or flush (post_migrate), so a deleted group comes back with its permissions."""

GROUPS = {
    "RiskWarningFull": ["view_console", "act_console"],
    "RiskWarningReadOnly": ["view_console"],
}
ACCOUNT_KINDS = ("margin", "intraday", "cash")


def ensure_groups_and_rule_sets(apps) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="risk", codename__in=codenames))
    RuleSet = apps.get_model("risk", "RuleSet")
    for kind in ACCOUNT_KINDS:
        RuleSet.objects.get_or_create(account_kind=kind)


def on_post_migrate(sender, apps=None, using="default", **kwargs):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    # Permissions are created by another post_migrate receiver whose order is not ours to choose.
    create_permissions(sender, apps=apps, verbosity=0, using=using)
    ensure_groups_and_rule_sets(apps)
