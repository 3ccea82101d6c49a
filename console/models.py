"""What every page of the console shares in the database: the audit log of actions, and the
append-only rows kept for compliance. The console's own permissions hang on the audit log's model."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImmutableRecord(Exception):
    pass


class AppendOnly(models.Model):
    """Rows written once and kept: saving an existing row or deleting one is refused (PostgreSQL
    refuses it too, by a trigger)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableRecord(
                _("%(record)s is kept as written and never changed.") % {"record": self._meta.verbose_name}
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord(
            _("%(record)s is kept as written and never deleted.") % {"record": self._meta.verbose_name}
        )


class AuditEntry(AppendOnly):
    """One action in the console: who, when, what, on which objects, with what outcome. Append-only."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    targets = models.JSONField(_("on"), default=list)
    detail = models.JSONField(_("detail"), default=dict)
    outcome = models.CharField(_("outcome"), max_length=200)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        permissions = [
            ("view_console", "Can view the Margin Call console"),
            ("act_console", "Can act in the Margin Call console"),
        ]

    def __str__(self):
        from .audit import named

        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {named(self.action)} {self.outcome}"
