"""The groups every installation has, and the permissions each app grants them. Created by migration
and restored after any migrate or flush (post_migrate), so a deleted group comes back with its
permissions.

An app with actions of its own (liquidation's ``liquidate``, say) declares them as permissions on one
of its models, grants them to RiskWarningFull with :func:`grant` in a migration, and connects
:func:`granting` to post_migrate in its ``ready``. RiskWarningReadOnly is never granted an action."""

FULL_GROUP = "RiskWarningFull"
READ_ONLY_GROUP = "RiskWarningReadOnly"

CONSOLE_GRANTS = {
    FULL_GROUP: ["view_console", "act_console"],
    READ_ONLY_GROUP: ["view_console"],
}


def grant(apps, app_label: str, grants: dict[str, list[str]]) -> None:
    """Give each group these permissions of ``app_label`` (creating the group if need be)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in grants.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))


def ensure_groups(apps) -> None:
    grant(apps, "console", CONSOLE_GRANTS)


def granting(app_label: str, grants: dict[str, list[str]]):
    """A post_migrate receiver that (re)grants an app's permissions after its permissions exist. Connect
    it with ``weak=False``: nothing else holds it."""

    def receiver(sender, apps=None, using="default", **kwargs):
        from django.apps import apps as global_apps
        from django.contrib.auth.management import create_permissions

        apps = apps or global_apps
        # Permissions are created by another post_migrate receiver whose order is not ours to choose.
        create_permissions(sender, apps=apps, verbosity=0, using=using)
        grant(apps, app_label, grants)

    return receiver


on_post_migrate = granting("console", CONSOLE_GRANTS)
