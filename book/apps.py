from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "book"
    verbose_name = _("Book")

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up checks)
        from .lookups import register

        register()
