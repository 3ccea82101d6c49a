from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "console"
    verbose_name = _("Console")

    def ready(self):
        from django.contrib import admin

        from . import checks  # noqa: F401  (the server's settings, checked at start)
        from .bootstrap import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="console.bootstrap")
        admin.site.site_header = _("Margin Call console administration")
        admin.site.site_title = _("Margin Call console administration")
        admin.site.index_title = _("Rules, book and users")
