from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# Acting on stock recovery is RiskWarningFull's (never RiskWarningReadOnly's).
GRANTS = {"RiskWarningFull": ["recover"]}


class RecoveryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recovery"
    verbose_name = _("Stock recovery")

    def ready(self):
        from console.bootstrap import granting
        from console.permissions import register_action

        register_action("recover", "recovery.recover")
        post_migrate.connect(granting("recovery", GRANTS), sender=self, weak=False, dispatch_uid="recovery.bootstrap")
