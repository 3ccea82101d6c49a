from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "risk"
    verbose_name = _("Risk")

    def ready(self):
        from console import audit

        from . import checks, receivers  # noqa: F401  (start-up checks; recomputes what the book's changes move)
        from .bootstrap import on_post_migrate

        audit.name("add_remark", _("Add a remark"))
        audit.name("move_deadline", _("Move a deadline"))
        audit.name("mark_exception", _("Mark exception"))
        audit.name("unmark_exception", _("Unmark exception"))
        audit.name("exception", _("Mark or unmark exception"))
        audit.name("end_call", _("End a call"))

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="risk.bootstrap")
