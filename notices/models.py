"""Notices to clients about their calls: what was sent (a notice), how (a delivery per channel), the
templates it was written from, and the gateways SMS and voice go through (docs/notices.md)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from book.models import Account, Desk, Language
from console.querysets import DeskScopedQuerySet
from console.text import validate_address
from risk.models import MarginCall

from .placeholders import RECOVERY_KINDS, TemplateError, check


class NoticeKind(models.TextChoices):
    TRIGGER = "trigger", _("Call opened")
    FORCE_CALL = "force_call", _("Force call")
    DAILY = "daily", _("Daily")
    # The system's opening and daily notice to a debit call: a debt with no position, which only a
    # deposit meets (the trigger and daily texts tell of a ratio and of positions to reduce).
    DEBIT = "debit", _("Debit balance")
    MANUAL = "manual", _("Message from the desk")
    LIQUIDATION = "liquidation", _("Liquidation placed")
    RECOVERY = "recovery", _("Stock recovery")
    COVERED_CALL = "covered_call", _("Covered-call recovery")


# The kinds of a notice about a call (the others, RECOVERY_KINDS, are about an account's stock to recover).
CALL_NOTICE_KINDS = tuple(kind for kind in NoticeKind if kind not in RECOVERY_KINDS)

# The kinds the system sends once per call per XHKG trading day (the trigger counts as its day's).
DAILY_KINDS = (NoticeKind.TRIGGER, NoticeKind.DAILY, NoticeKind.DEBIT)


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice message")


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class NoticeTemplate(models.Model):
    """The text of one kind of notice on one channel in one language. Placeholders such as
    ``{call_amount}`` are filled from the call; an unknown one is refused when the template is saved."""

    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel)
    language = models.CharField(_("language"), max_length=8, choices=Language)
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("Email only."))
    body = models.TextField(_("text"), max_length=4000)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind", "channel", "language"]
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel", "language"], name="notice_template_one_per_language")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {self.get_language_display()}"

    def clean(self):
        errors = {}
        for name in ("subject", "body"):
            try:
                check(getattr(self, name), self.kind)
            except TemplateError as error:
                errors[name] = str(error)
        if self.channel == Channel.EMAIL and not self.subject.strip() and "subject" not in errors:
            errors["subject"] = _("An email needs a subject.")
        if errors:
            raise ValidationError(errors)


# The key of a desk's message: this, then its form's key.
DESK_KEY = "manual:"


class Notice(models.Model):
    """One notice to a client about a call, on one or more channels. The system's trigger and daily
    notices carry the XHKG trading day they count for: one per call per day (a database constraint)."""

    # None for a message about the account rather than a call (stock recovery, say).
    call = models.ForeignKey(
        MarginCall, verbose_name=_("call"), on_delete=models.PROTECT, related_name="notices", null=True, blank=True
    )
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind)
    # What makes it unique for its call: "trigger", "daily:2026-12-23", "force_call:<time>", a form's key.
    key = models.CharField(_("key"), max_length=80)
    day = models.DateField(_("trading day"), null=True, blank=True)
    text = models.TextField(_("free text"), blank=True, max_length=2000)
    # The stock a message about stock to recover names ("" for any other notice).
    stock = models.CharField(_("stock"), max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        permissions = [("send_notice", _("Can send notices to clients"))]
        constraints = [
            models.UniqueConstraint(fields=["call", "key"], name="notice_one_per_key"),
            models.UniqueConstraint(
                fields=["account", "key"], condition=Q(call__isnull=True), name="notice_one_per_account_key"
            ),
            models.UniqueConstraint(
                fields=["call", "day"], condition=Q(day__isnull=False), name="notice_one_per_call_and_trading_day"
            ),
            models.CheckConstraint(
                condition=Q(day__isnull=True) | Q(kind__in=[kind.value for kind in DAILY_KINDS]),
                name="notice_day_only_for_daily_kinds",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.account_id} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def from_desk(self) -> bool:
        """A message a trader sent (whatever template it was written from), not the system's."""
        return self.key.startswith(DESK_KEY)


class Delivery(models.Model):
    """A notice on one channel: to whom, what was written, and what happened to it."""

    notice = models.ForeignKey(Notice, verbose_name=_("notice"), on_delete=models.PROTECT, related_name="deliveries")
    # Its account's desk, kept in step by the database (migration 0011, book.desk_copies), so a desk's
    # Notices list reads this table alone.
    desk = models.ForeignKey(
        Desk, verbose_name=_("desk"), on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel)
    recipient = models.CharField(_("to"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=Language)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=12, choices=DeliveryStatus, default=DeliveryStatus.QUEUED)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)

    objects = DeskScopedQuerySet.as_manager()  # visible_to(user): the deliveries of the user's desks

    class Meta:
        ordering = ["pk"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["notice", "channel"], name="delivery_one_per_channel")]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="delivery_by_status"),
            # The Notices list's order (newest first): a year of daily notices is millions of rows. With the
            # desk, a trader's desks are filtered without reading the rows.
            models.Index(fields=["-queued_at", "-id"], include=["desk"], name="delivery_newest_first"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.recipient or '—'}: {self.get_status_display()}"


class NoticeGateway(models.Model):
    """Where SMS or voice messages go: an HTTP endpoint that takes the JSON in docs/notices.md."""

    channel = models.CharField(
        _("channel"), max_length=8, choices=[(Channel.SMS, _("SMS")), (Channel.VOICE, _("Voice message"))], unique=True
    )
    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[validate_address],
        help_text=_("https://… (http:// only on a closed network)"),
    )
    token = models.CharField(
        _("token"), max_length=500, blank=True, help_text=_("Sent as Authorization: Bearer <token>.")
    )
    timeout_seconds = models.DecimalField(
        _("timeout (seconds)"),
        max_digits=5,
        decimal_places=2,
        default=5,
        validators=[MinValueValidator(0.1), MaxValueValidator(120)],
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("notice gateway")
        verbose_name_plural = _("notice gateways")

    def __str__(self):
        # Without its query or credentials: Django's own admin log keeps this text (a key may ride there).
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]  # as written: an IPv6 address keeps its brackets
        return f"{self.get_channel_display()}: {parts.scheme}://{host}{parts.path}"
