"""Liquidation orders and their fills (docs/liquidation.md)."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from book.models import (
    FIGURE_DIGITS,
    FIGURE_PLACES,
    HKD,
    PRICE_DIGITS,
    PRICE_PLACES,
    Account,
    Desk,
    Instrument,
    possible_time,
)
from book.times import validate_possible_time
from console.querysets import DeskScopedQuerySet
from risk.models import MarginCall


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUBMITTED = "submitted", _("Submitted")
    PARTIALLY_FILLED = "partially_filled", _("Partially filled")
    FILLED = "filled", _("Filled")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")


WORKING = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


class Side(models.TextChoices):
    SELL = "sell", _("Sell")
    BUY = "buy", _("Buy to cover")


class OrderType(models.TextChoices):
    LIMIT = "limit", pgettext_lazy("order type", "Enhanced limit")
    MARKET = "market", pgettext_lazy("order type", "Market")


class Source(models.TextChoices):
    MANUAL = "manual", _("Manual")
    BATCH = "batch", _("Batch")
    AUTO = "auto", _("Automatic")
    RECOVERY = "recovery", _("Stock recovery")  # a short bought back, or stock for a covered call: no call's


class OrderQuerySet(DeskScopedQuerySet):
    desk_lookup = "desk"  # kept in step with the account's desk (see Order.desk)

    def working(self):
        return self.filter(status__in=WORKING)


class Order(models.Model):
    """A liquidation order: sell a long, or buy back a short. Its unfilled rest, while it works, is
    reserved against the position, so no two orders together ever close more than the position holds."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="orders")
    # The account's desk, kept in step by the database (migration 0011, book.desk_copies), so a desk's
    # Orders list reads this table alone.
    desk = models.ForeignKey(
        Desk, verbose_name=_("desk"), on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    call = models.ForeignKey(
        MarginCall, verbose_name=_("call"), on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    instrument = models.ForeignKey(
        Instrument, verbose_name=_("instrument"), on_delete=models.PROTECT, related_name="orders"
    )
    side = models.CharField(_("side"), max_length=4, choices=Side)
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    filled_quantity = models.PositiveBigIntegerField(_("filled"), default=0)
    order_type = models.CharField(_("type"), max_length=8, choices=OrderType, default=OrderType.LIMIT)
    limit_price = models.DecimalField(
        _("limit price"), max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus, default=OrderStatus.PENDING)
    reject_reason = models.TextField(_("reason rejected"), blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source, default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, validators=[validate_possible_time])
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)
    cancel_requested_at = models.DateTimeField(_("cancel asked at"), null=True, blank=True)
    # A form submitted twice or a request retried carries the same key: one order.
    idempotency_key = models.CharField(max_length=100, unique=True, null=True, blank=True, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("liquidation order")
        verbose_name_plural = _("liquidation orders")
        permissions = [
            ("liquidate", "Can liquidate"),
            ("cancel_order", "Can cancel a liquidation order"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__lte=F("quantity")), name="order_filled_at_most_quantity"
            ),
            models.CheckConstraint(
                condition=Q(order_type="market") | Q(limit_price__gt=0), name="order_limit_price_positive"
            ),
            possible_time("created_at"),
        ]
        indexes = [
            models.Index(fields=["account", "instrument", "status"], name="order_working_by_position"),
            # The Orders list's order (newest first), so its pages and a day's orders are read from here;
            # with the desk, a trader's desks are filtered without reading the rows.
            models.Index(fields=["-created_at", "-id"], include=["desk"], name="order_newest_first"),
            # The few working orders, counted on every Orders page among all the orders ever placed.
            models.Index(fields=["status"], condition=Q(status__in=WORKING), name="order_working"),
            # The list filtered to a source or a status, newest first: a rare one (stock recovery's orders,
            # the rejected) read here, not found by reading every order.
            models.Index(fields=["source", "-created_at", "-id"], include=["desk"], name="order_by_source"),
            models.Index(fields=["status", "-created_at", "-id"], include=["desk"], name="order_by_status"),
        ]

    def __str__(self):
        return f"{self.side} {self.quantity} {self.instrument_id} ({self.status})"

    def type_label(self) -> str:
        """Its type as a desk names it: HKEX's enhanced limit order; a plain limit on other markets."""
        if self.order_type == OrderType.LIMIT and self.instrument.currency != HKD:
            return str(pgettext_lazy("order type", "Limit"))
        return self.get_order_type_display()

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_working(self) -> bool:
        return self.status in WORKING


class Fill(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="fills")
    quantity = models.PositiveBigIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    price = models.DecimalField(_("price"), max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    time = models.DateTimeField(_("time"), validators=[validate_possible_time])
    # The gateway's own id of the fill: a fill reported twice is booked once.
    reference = models.CharField(_("reference"), max_length=100, unique=True)

    class Meta:
        ordering = ["time", "pk"]
        verbose_name = _("fill")
        verbose_name_plural = _("fills")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            possible_time("time"),
        ]

    def __str__(self):
        return f"{self.quantity} @ {self.price}"


class LiquidationSwitch(models.Model):
    """The risk admins' kill switch: off, no automatic liquidation runs anywhere (one row)."""

    automatic = models.BooleanField(
        _("automatic liquidation on"),
        default=True,
        help_text=_("Off stops every automatic liquidation at once; traders may still liquidate by hand."),
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("automatic liquidation switch")
        verbose_name_plural = _("automatic liquidation switch")

    def __str__(self):
        return str(pgettext_lazy("a switch", "on") if self.automatic else pgettext_lazy("a switch", "off"))

    @classmethod
    def automatic_on(cls) -> bool:
        row = cls.objects.filter(pk=1).first()
        return True if row is None else row.automatic


class BatchStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Batch(models.Model):
    """A liquidation of many calls at once, run in the background; its page shows the progress and the
    outcome per call."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, validators=[validate_possible_time])
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, validators=[validate_possible_time])
    # When it last moved (started, or a chunk done): a running batch that has not moved for a while was
    # never started (the task queue was away) or lost its worker, and the sweep starts it again.
    moved_at = models.DateTimeField(_("last progress"), default=timezone.now, validators=[validate_possible_time])
    # The form's key: a batch form sent twice starts one batch.
    key = models.CharField(max_length=64, unique=True, editable=False)
    only = models.JSONField(_("only these stocks"), default=list, blank=True)
    total = models.PositiveIntegerField(_("calls"), default=0)
    done = models.PositiveIntegerField(_("calls done"), default=0)
    orders = models.PositiveIntegerField(_("orders placed"), default=0)
    status = models.CharField(_("status"), max_length=8, choices=BatchStatus, default=BatchStatus.RUNNING)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("liquidation batch")
        verbose_name_plural = _("liquidation batches")
        constraints = [possible_time("created_at"), possible_time("finished_at")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


class BatchOutcome(models.TextChoices):
    PLACED = "placed", _("placed")
    CLOSED = "closed", _("closed before its turn")
    REFUSED = "refused", _("refused")


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    call = models.ForeignKey(MarginCall, verbose_name=_("call"), on_delete=models.PROTECT, related_name="+")
    done = models.BooleanField(default=False)
    orders = models.PositiveIntegerField(_("orders placed"), default=0)
    outcome = models.CharField(_("outcome"), max_length=8, choices=BatchOutcome, blank=True)
    # Why its orders were refused, in each of the console's languages (console.text.every_language).
    refusal = models.JSONField(_("why refused"), default=dict, blank=True)
    # What the plan placed was, as the preview showed it: whether it covers the call, and its value.
    covers = models.BooleanField(_("covers the call"), null=True, blank=True)
    value = models.DecimalField(
        _("plan value (HKD)"), max_digits=FIGURE_DIGITS, decimal_places=FIGURE_PLACES, null=True, blank=True
    )

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["batch", "call"], name="batch_item_once_per_call")]

    def __str__(self):
        return f"{self.call_id}: {self.outcome}"
