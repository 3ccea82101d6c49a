from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# The liquidation actions, granted to RiskWarningFull (never to RiskWarningReadOnly).
GRANTS = {"RiskWarningFull": ["liquidate", "cancel_order"]}


class LiquidationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "liquidation"
    verbose_name = _("Liquidation")

    def ready(self):
        from book.signals import book_written
        from console import audit, panels
        from console.bootstrap import granting
        from console.permissions import register_action
        from risk.signals import call_ended

        from . import services
        from .views import batch_panel, call_panel

        book_written.connect(services.book_written, dispatch_uid="liquidation.book_written")
        call_ended.connect(services.call_ended, dispatch_uid="liquidation.call_ended")
        register_action("liquidate", "liquidation.liquidate")
        register_action("cancel_order", "liquidation.cancel_order")
        audit.name("liquidate", _("Liquidate"))
        audit.name("liquidate_batch", _("Liquidate a batch"))
        audit.name("cancel_order", _("Cancel orders"))
        audit.name("set_auto_liquidation", _("Set the auto-liquidation time"))
        panels.register("call_detail", call_panel)
        panels.register("call_list_batch", batch_panel)
        post_migrate.connect(
            granting("liquidation", GRANTS), sender=self, weak=False, dispatch_uid="liquidation.bootstrap"
        )
