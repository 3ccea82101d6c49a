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
        from console import audit
        from console.bootstrap import granting
        from console.permissions import register_action
        from liquidation import services as liquidation_services
        from notices.signals import account_messages_settled, calls_with_orders

        from . import receivers

        register_action("recover", "recovery.recover")
        audit.name("recover", _("Recover stock"))
        book_written.connect(receivers.book_written, dispatch_uid="recovery.book_written")
        positions_changed.connect(receivers.positions_changed, dispatch_uid="recovery.positions_changed")
        account_messages_settled.connect(receivers.account_messages_settled, dispatch_uid="recovery.messages_settled")
        # Liquidation and notices stand side by side and import neither the other: the app above both
        # wires what notices asks of liquidation (which calls have orders, for the liquidation template).
        calls_with_orders.connect(liquidation_services.calls_with_orders, dispatch_uid="liquidation.calls_with_orders")
        post_migrate.connect(granting("recovery", GRANTS), sender=self, weak=False, dispatch_uid="recovery.bootstrap")
