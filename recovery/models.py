"""What the desk does about stock to get back: the covered-call cases (followed live from the book),
the short-stock items of the last scan, and each lending pool's status (docs/recovery.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from book.models import Account, Instrument
from book.times import validate_possible_time


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CONTACTED = "contacted", _("Contacted")
    DONE = "done", _("Done")
    EXCEPTION = "exception", _("Exception")


class Reason(models.TextChoices):
    ACCOUNT_CANNOT_SHORT = "account_cannot_short", _("The account may not sell short")
    NOT_SHORTABLE = "not_shortable", _("The stock may not be sold short")
    LENDING_POOL = "lending_pool", _("The lending pool is under water")


class CoveredCallCase(models.Model):
    """An account short call options on a stock it does not hold enough of. The shortfall itself is
    computed from the book when shown; this keeps when it was found, its due time, status and remark.
    Closed (``resolved_at``) once the book no longer shows a shortfall."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+")
    underlying = models.ForeignKey(Instrument, verbose_name=_("underlying"), on_delete=models.PROTECT, related_name="+")
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now, validators=[validate_possible_time])
    due = models.DateTimeField(_("due"), validators=[validate_possible_time])
    status = models.CharField(_("status"), max_length=12, choices=CaseStatus, default=CaseStatus.OPEN)
    remark = models.TextField(_("remark"), blank=True, max_length=1000)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-detected_at", "pk"]
        verbose_name = _("covered-call case")
        verbose_name_plural = _("covered-call cases")
        permissions = [("recover", _("Can act on stock recovery"))]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "underlying"],
                condition=Q(resolved_at__isnull=True),
                name="covered_call_one_open_case",
            )
        ]

    def __str__(self):
        return f"{self.account_id} {self.underlying_id} {self.get_status_display()}"

    @property
    def stock(self) -> Instrument:
        """The stock to recover: the underlying the account lacks."""
        return self.underlying


class RecoveryScan(models.Model):
    """One run of the short-stock scan."""

    ran_at = models.DateTimeField(_("ran at"), default=timezone.now, db_index=True)
    items = models.PositiveIntegerField(_("items"), default=0)
    seconds = models.DecimalField(_("seconds"), max_digits=8, decimal_places=3, default=0)

    class Meta:
        ordering = ["-ran_at"]
        verbose_name = _("recovery scan")
        verbose_name_plural = _("recovery scans")

    def __str__(self):
        return f"{self.ran_at:%Y-%m-%d %H:%M} ({self.items})"


class ShortStockItem(models.Model):
    """A short stock position to buy back, as the last scan found it. An item found again keeps its
    detection time, due time, status and remark; one no longer found is resolved."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+")
    instrument = models.ForeignKey(Instrument, verbose_name=_("stock"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=24, choices=Reason)
    short_quantity = models.BigIntegerField(_("short quantity"))
    quantity = models.BigIntegerField(_("quantity to recover"))
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now, validators=[validate_possible_time])
    due = models.DateTimeField(_("due"), validators=[validate_possible_time])
    status = models.CharField(_("status"), max_length=12, choices=CaseStatus, default=CaseStatus.OPEN)
    remark = models.TextField(_("remark"), blank=True, max_length=1000)
    scan = models.ForeignKey(RecoveryScan, verbose_name=_("scan"), on_delete=models.PROTECT, related_name="found")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["account__account_no", "instrument__symbol"]
        verbose_name = _("short stock to recover")
        verbose_name_plural = _("short stock to recover")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "instrument"], condition=Q(resolved_at__isnull=True), name="short_stock_one_open"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="short_stock_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.account_id} {self.instrument_id} {self.quantity} ({self.reason})"

    @property
    def stock(self) -> Instrument:
        """The stock to recover: the one sold short."""
        return self.instrument


class PoolStatus(models.TextChoices):
    NORMAL = "normal", _("Normal")
    WARNING = "close_out_warning", _("Close-out warning")
    CLOSED = "closed", _("Closed")


class LendingPool(models.Model):
    """A trader's status and remark on a stock's lending pool (the figures come from the book)."""

    instrument = models.OneToOneField(
        Instrument, verbose_name=_("stock"), on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    status = models.CharField(_("status"), max_length=20, choices=PoolStatus, default=PoolStatus.NORMAL)
    remark = models.TextField(_("remark"), blank=True, max_length=1000)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("set by"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("lending pool")
        verbose_name_plural = _("lending pools")

    def __str__(self):
        return f"{self.instrument_id} {self.get_status_display()}"
