"""The rule sets every installation has, one per account kind. Created by migration and restored after
any migrate or flush (post_migrate)."""

ACCOUNT_KINDS = ("margin", "intraday", "cash")


def ensure_rule_sets(apps) -> None:
    RuleSet = apps.get_model("risk", "RuleSet")
    for kind in ACCOUNT_KINDS:
        RuleSet.objects.get_or_create(account_kind=kind)


def on_post_migrate(sender, apps=None, using="default", **kwargs):
    from django.apps import apps as global_apps

    ensure_rule_sets(apps or global_apps)
