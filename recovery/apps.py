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
        from book.signals import book_written, positions_changed
        from console.bootstrap import granting
        from console.permissions import register_action
        from notices.signals import account_messages_settled

        from . import receivers

        register_action("recover", "recovery.recover")
        book_written.connect(receivers.book_written, dispatch_uid="recovery.book_written")
        positions_changed.connect(receivers.positions_changed, dispatch_uid="recovery.positions_changed")
        account_messages_settled.connect(receivers.account_messages_settled, dispatch_uid="recovery.messages_settled")
        post_migrate.connect(granting("recovery", GRANTS), sender=self, weak=False, dispatch_uid="recovery.bootstrap")
