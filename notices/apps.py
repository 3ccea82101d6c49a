from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# Sending notices is RiskWarningFull's (never RiskWarningReadOnly's).
GRANTS = {"RiskWarningFull": ["send_notice"]}


class NoticesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notices"
    verbose_name = _("Notices")

    def ready(self):
        from console import audit, panels
        from console.bootstrap import granting
        from console.permissions import register_action
        from risk.signals import calls_changed

        from . import checks, receivers  # noqa: F401  (start-up checks)
        from .views import batch_panel, call_panel

        register_action("send_notice", "notices.send_notice")
        audit.name("send_notice", _("Send a notice"))
        panels.register("call_detail", call_panel)
        panels.register("call_list_batch", batch_panel)
        calls_changed.connect(receivers.calls_changed, dispatch_uid="notices.calls_changed")
        post_migrate.connect(granting("notices", GRANTS), sender=self, weak=False, dispatch_uid="notices.bootstrap")
