"""The rule sets risk admins edit, each account's latest computed figures, and margin calls with
their remarks, deadline changes and snapshots."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from book.models import (
    RATIO_DIGITS,
    RATIO_PLACES,
    Account,
    AccountKind,
    Desk,
    Instrument,
    figure_field,
    possible_time,
)
from book.times import validate_possible_time
from console.models import AppendOnly
from console.text import printable

from .querysets import AccountRiskQuerySet, MarginCallQuerySet

NOTICE_CHANNELS = ("email", "sms", "voice")


def validate_channels(value: str) -> None:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in parts if part not in NOTICE_CHANNELS]
    if unknown:
        raise ValidationError(
            _("Unknown channel “%(channel)s”: use email, sms or voice, separated by commas."),
            params={"channel": printable(unknown[0][:20])},
        )
    if len(set(parts)) != len(parts):
        raise ValidationError(_("A channel is named twice."))


def channels_field(verbose_name):
    return models.CharField(
        verbose_name,
        max_length=40,
        default="email,sms",
        blank=True,
        validators=[validate_channels],
        help_text=_("email, sms and/or voice, separated by commas; empty: none."),
    )


def channels_of(value: str) -> list[str]:
    """A rule set's channel setting as a list, in the order written."""
    return [part.strip() for part in value.split(",") if part.strip() in NOTICE_CHANNELS]


class RuleSet(models.Model):
    """Risk settings for one account kind, edited by risk admins."""

    account_kind = models.CharField(_("account kind"), max_length=16, choices=AccountKind, unique=True)
    call_coefficient = models.DecimalField(
        _("call coefficient"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Maintenance margin is multiplied by this in the margin shortfall."),
    )
    deadline_sessions = models.PositiveSmallIntegerField(
        _("deadline (trading sessions)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(250)],
        help_text=_("A call's deadline is the close of this many HKEX sessions after its trigger."),
    )
    deadline_move_sessions = models.PositiveSmallIntegerField(
        _("deadline may move (trading sessions)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(250)],
        help_text=_("A trader may move a call's deadline to at most this many sessions past its original deadline."),
    )
    reopen_sessions = models.PositiveSmallIntegerField(
        _("reopen window (trading sessions)"),
        default=1,
        validators=[MaxValueValidator(20)],
        help_text=_(
            "A call the market closed that is called again before the close of this many HKEX sessions "
            "after it closed is reopened (the same call, trigger time and deadline). 0: never reopened."
        ),
    )
    long_outstanding_days = models.PositiveSmallIntegerField(
        _("long outstanding after (days)"), default=90, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    snapshot_time = models.TimeField(
        _("daily snapshot time"),
        default=dt.time(16, 30),
        help_text=_("Hong Kong time at which every open call's daily snapshot is taken."),
    )
    notice_time = models.TimeField(
        _("daily notice time"),
        default=dt.time(17, 0),
        help_text=_(
            "Hong Kong time from which each XHKG trading day's notice goes to every open call that is not "
            "an exception and not past its deadline."
        ),
    )
    recovery_sessions = models.PositiveSmallIntegerField(
        _("stock recovery due (trading sessions)"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Stock to recover is due at the close of this many HKEX sessions after it is found."),
    )
    trigger_channels = channels_field(_("channels of the trigger notice"))
    force_call_channels = channels_field(_("channels of the force-call notice"))
    daily_channels = channels_field(_("channels of the daily notice"))
    liquidation_target = models.CharField(
        _("liquidation restores"),
        max_length=2,
        choices=[("mm", _("maintenance margin")), ("im", _("initial margin"))],
        default="mm",
        help_text=_("A liquidation plan sells until the margin shortfall against this requirement is covered."),
    )
    liquidation_buffer = models.DecimalField(
        _("liquidation buffer"),
        max_digits=6,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("A fraction of the requirement the plan leaves spare: 0.05 is 5%."),
    )
    liquidation_cost_rate = models.DecimalField(
        _("expected cost rate"),
        max_digits=6,
        decimal_places=5,
        default=Decimal("0.002"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.1"))],
        help_text=_("Commission, stamp duty and levies as a fraction of the value traded: 0.002 is 0.2%."),
    )
    price_band = models.DecimalField(
        _("order price band"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.02"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.5"))],
        help_text=_("A liquidation order's default limit is the last price moved by this fraction: 0.02 is 2%."),
    )
    price_deviation_limit = models.DecimalField(
        _("limit price at most this far from the last price"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("0.9"))],
        help_text=_(
            "A trader's own limit price further than this fraction from the last price is refused (0.10 is"
            " 10%): a mistyped price never reaches the market. At least the order price band."
        ),
    )
    max_price_age_minutes = models.PositiveSmallIntegerField(
        _("price may be at most (minutes) old"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text=_("Automatic liquidation never trades on an older price."),
    )
    auto_liquidate_past_deadline = models.BooleanField(
        _("liquidate past the deadline automatically"),
        default=False,
        help_text=_("Calls past their deadline are liquidated by themselves (off: a trader decides)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["account_kind"]
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        constraints = [
            models.CheckConstraint(condition=Q(call_coefficient__gte=0), name="rule_set_coefficient_not_negative"),
            models.CheckConstraint(
                condition=Q(deadline_sessions__gte=1, deadline_sessions__lte=250), name="rule_set_deadline_1_to_250"
            ),
            models.CheckConstraint(
                condition=Q(deadline_move_sessions__gte=1, deadline_move_sessions__lte=250),
                name="rule_set_deadline_move_1_to_250",
            ),
        ]

    def __str__(self):
        return str(self.get_account_kind_display())


class CallType(models.TextChoices):
    DEBIT = "debit", _("Debit")
    FORCE_CALL = "force_call", _("Force call")
    MARGIN_CALL = "margin_call", _("Margin call")
    EXCESS_FINANCING = "excess_financing", _("Excess financing")


class ExactSum(models.Field):
    """An exact number of any scale (PostgreSQL ``numeric`` with no precision): the engine's sums before
    rounding, which a column of fixed scale would round."""

    description = "exact number"

    def db_type(self, connection):
        return "numeric"

    def from_db_value(self, value, expression, connection):
        return None if value is None else Decimal(str(value))

    def to_python(self, value):
        return None if value is None else Decimal(str(value))


class AccountRisk(models.Model):
    """An account's latest figures (docs/domain.md, Figures), stored so pages read them instead of recomputing."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="risk")
    total_cash = figure_field(_("total cash"))
    long_mv = figure_field(_("long market value"))
    short_mv = figure_field(_("short market value"))
    equity = figure_field(_("equity"))
    illiquid_mv = figure_field(_("illiquid market value"))
    liquid_nav = figure_field(_("liquid net assets"))
    exposure = figure_field(_("exposure"))
    nav_ratio = models.DecimalField(
        _("net asset ratio"), max_digits=RATIO_DIGITS, decimal_places=RATIO_PLACES, null=True, blank=True
    )
    im = figure_field(_("initial margin"))
    mm = figure_field(_("maintenance margin"))
    fm = figure_field(_("force-liquidation margin"))
    loan = figure_field(_("loan"))
    excess_financing = figure_field(_("excess financing"))
    margin_shortfall = figure_field(_("margin shortfall"))
    force_shortfall = figure_field(_("force shortfall"))
    call_amount = figure_field(_("call amount"))
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType, blank=True)
    computed_at = models.DateTimeField(_("figures changed at"))  # the recompute writes only figures that changed
    # What the figures were derived from, exactly, at the stored instrument valuations
    # (InstrumentValuation), kept by the PostgreSQL engine (risk.sql_engine) so that a price change adds
    # its difference to each holder's sums instead of reading the holder's whole book. exact_cash is
    # NULL when they are not valid (the account's positions or cash, or an FX rate, changed since: the
    # database's triggers of migration 0010 clear it): the account is then recomputed from its book.
    exact_cash = ExactSum(null=True, editable=False)
    exact_long_mv = ExactSum(null=True, editable=False)
    exact_short_mv = ExactSum(null=True, editable=False)
    exact_illiquid_mv = ExactSum(null=True, editable=False)
    exact_im = ExactSum(null=True, editable=False)
    exact_mm = ExactSum(null=True, editable=False)
    exact_fm = ExactSum(null=True, editable=False)
    open_positions = models.PositiveIntegerField(null=True, editable=False)
    # Why the last recompute could not store this account's figures (a currency with no FX rate, a
    # figure too large to store): the figures shown are older than its book. "" once they follow it.
    figures_problem = models.CharField(
        _("why the figures do not follow the book"), max_length=300, blank=True, default="", db_default=""
    )

    objects = AccountRiskQuerySet.as_manager()

    class Meta:
        verbose_name = _("account figures")
        verbose_name_plural = _("account figures")
        indexes = [
            models.Index(fields=["call_type"], name="account_risk_call_type"),
            # the few accounts whose figures do not follow their book, found without reading the rest
            models.Index(fields=["account"], condition=~Q(figures_problem=""), name="account_risk_problem"),
        ]

    def __str__(self):
        return f"{self.account_id}: {self.call_type or '-'} {self.call_amount}"

    FIGURE_FIELDS = (
        "total_cash",
        "long_mv",
        "short_mv",
        "equity",
        "illiquid_mv",
        "liquid_nav",
        "exposure",
        "nav_ratio",
        "im",
        "mm",
        "fm",
        "loan",
        "excess_financing",
        "margin_shortfall",
        "force_shortfall",
        "call_amount",
        "call_type",
    )


# Accounts of these kinds have margin calls, each listed on its own console page.
CALL_KINDS = (AccountKind.MARGIN, AccountKind.INTRADAY)


class InstrumentValuation(models.Model):
    """An instrument as the stored figures value it (PostgreSQL engine, :mod:`risk.sql_engine`): HKD per
    unit held and per unit of each margin, long and short. Every holder's exact sums are at these
    values; a recompute pass moves them to the instrument's current terms and adds the difference,
    times each holder's quantity, to the holder's sums, in the same transaction."""

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, primary_key=True, related_name="+")
    currency = models.CharField(max_length=3)
    unit_value = ExactSum(null=True)  # NULL: no FX rate for its currency
    illiquid = models.BooleanField()
    long_im = ExactSum(null=True)
    long_mm = ExactSum(null=True)
    long_fm = ExactSum(null=True)
    short_im = ExactSum(null=True)
    short_mm = ExactSum(null=True)
    short_fm = ExactSum(null=True)

    class Meta:
        verbose_name = _("instrument valuation")
        verbose_name_plural = _("instrument valuations")

    def __str__(self):
        return f"{self.instrument_id}: {self.unit_value}"


class CallStatus(models.TextChoices):
    OPEN = "open", _("Open")
    EXCEPTION = "exception", _("Exception")
    CLOSED = "closed", _("Closed")


class CloseCause(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    LIQUIDATION = "liquidation", _("Liquidation")
    MARKET = "market", _("Market")
    ADMIN = "admin", _("Changed in the admin")  # a rule set, an instrument's terms, an FX rate or the book
    MANUAL = "manual", _("Ended by a trader")
    CASH_ACCOUNT = "cash_account", _("Moved to a cash account")  # the account is no longer called


class MarginCall(models.Model):
    """A margin call (docs/domain.md, A call's life): opened when an account gets a call type, closed
    when its call amount reaches 0. Its live figures are the account's (AccountRisk); what it keeps is
    its own history."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="calls")
    # The account's kind, kept here so each page's list reads one table.
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind)
    # The account's desk, kept in step by the database itself (triggers of migration 0009: set when the
    # call is written, followed when the account moves desk), so a desk's lists read this table alone.
    desk = models.ForeignKey(
        Desk, verbose_name=_("desk"), on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=CallStatus, default=CallStatus.OPEN)
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType)
    trigger_type = models.CharField(_("type at trigger"), max_length=20, choices=CallType)
    triggered_at = models.DateTimeField(_("trigger time"), validators=[validate_possible_time])
    deadline = models.DateTimeField(_("deadline"), validators=[validate_possible_time])
    call_amount_at_trigger = figure_field(_("call amount at trigger"))
    nav_ratio_at_trigger = models.DecimalField(
        _("net asset ratio at trigger"), max_digits=RATIO_DIGITS, decimal_places=RATIO_PLACES, null=True, blank=True
    )
    # The account's current figures, followed by every recompute while the call is open (at close:
    # the figures it closed on), so the lists sort, filter and total on this table alone.
    call_amount = figure_field(_("call amount"))
    nav_ratio = models.DecimalField(
        _("net asset ratio"), max_digits=RATIO_DIGITS, decimal_places=RATIO_PLACES, null=True, blank=True
    )
    liquid_nav = figure_field(_("liquid net assets"))
    equity = figure_field(_("equity"))
    exception_reason = models.TextField(_("exception reason"), blank=True)
    exception_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("exception marked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    exception_at = models.DateTimeField(
        _("exception marked at"), null=True, blank=True, validators=[validate_possible_time]
    )
    remark = models.TextField(_("remark"), blank=True, help_text=_("The latest remark, for the lists."))
    auto_liquidate_at = models.DateTimeField(
        _("auto-liquidation time"), null=True, blank=True, validators=[validate_possible_time]
    )
    # What the automatic liquidation last did or why it waited (written by the liquidation app), in each of
    # the console's languages (console.text.every_language; read with console.text.read).
    auto_liquidation_note = models.JSONField(_("auto-liquidation outcome"), default=dict, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, validators=[validate_possible_time])
    close_cause = models.CharField(_("close cause"), max_length=16, choices=CloseCause, blank=True)
    close_reason = models.TextField(_("close reason"), blank=True, help_text=_("Why a trader ended the call."))
    # Until when a call the market closed is reopened, rather than a new call opened, if called again.
    reopen_until = models.DateTimeField(
        _("reopened if called again before"), null=True, blank=True, validators=[validate_possible_time]
    )
    reopened_count = models.PositiveIntegerField(_("times reopened"), default=0)
    # The last notice to the client and its delivery (written by the notices app), for the lists.
    last_notice_at = models.DateTimeField(_("last notice"), null=True, blank=True)
    last_notice_status = models.CharField(_("last notice status"), max_length=16, blank=True)
    updated_at = models.DateTimeField(_("updated at"), db_index=True)

    objects = MarginCallQuerySet.as_manager()

    class Meta:
        ordering = ["-triggered_at"]
        verbose_name = _("margin call")
        verbose_name_plural = _("margin calls")
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(closed_at__isnull=True), name="margin_call_one_open_per_account"
            ),
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_at__isnull=False) & ~Q(close_cause=""))
                | (~Q(status="closed") & Q(closed_at__isnull=True) & Q(close_cause="")),
                name="margin_call_closed_iff_closed_at",
            ),
            *[
                possible_time(field)
                for field in (
                    "triggered_at",
                    "deadline",
                    "closed_at",
                    "auto_liquidate_at",
                    "exception_at",
                    "reopen_until",
                )
            ],
        ]
        indexes = [
            # In the lists' own order (the biggest amount first, then the key; a trader's desks filtered on
            # in the index), so a page of the default view, deep pages included, is read here, not sorted.
            models.Index(
                fields=["kind", "status", "-call_amount", "id"],
                condition=Q(closed_at__isnull=True),
                include=["desk"],
                name="margin_call_open_by_amount",
            ),
            # History's order (the last closed first), read either way, and a range of days.
            models.Index(fields=["-closed_at", "-id"], include=["desk"], name="margin_call_closed_at"),
            # An account's calls, and those open or closed since a time (the lists' days called in the
            # last 30 days read their rows' accounts' calls here, not every call each account ever had).
            models.Index(fields=["account", "closed_at"], name="margin_call_by_account"),
        ]

    def __str__(self):
        return f"{self.account_id} {self.call_type} {self.triggered_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class CallRemark(models.Model):
    call = models.ForeignKey(MarginCall, on_delete=models.CASCADE, related_name="remarks")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("remark"))
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("remark")
        verbose_name_plural = _("remarks")

    def __str__(self):
        return f"{self.author_id} {self.created_at:%Y-%m-%d %H:%M}: {self.text[:40]}"


class DeadlineChange(models.Model):
    call = models.ForeignKey(MarginCall, on_delete=models.CASCADE, related_name="deadline_changes")
    old_deadline = models.DateTimeField(_("old deadline"), validators=[validate_possible_time])
    new_deadline = models.DateTimeField(_("new deadline"), validators=[validate_possible_time])
    reason = models.TextField(_("reason"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("deadline change")
        verbose_name_plural = _("deadline changes")
        constraints = [possible_time("old_deadline"), possible_time("new_deadline")]

    def __str__(self):
        return f"{self.old_deadline:%Y-%m-%d %H:%M} → {self.new_deadline:%Y-%m-%d %H:%M}"


class SnapshotKind(models.TextChoices):
    TRIGGER = "trigger", _("At trigger")
    FORCE_CALL = "force_call", _("At force call")
    DAILY = "daily", _("Daily")
    CLOSE = "close", _("At close")
    REOPENED = "reopened", _("Reopened")
    NOTICE_EMAIL = "notice_email", _("Notice by email")
    NOTICE_SMS = "notice_sms", _("Notice by SMS")
    NOTICE_VOICE = "notice_voice", _("Notice by voice message")


class CallSnapshot(AppendOnly):
    """A call's account as it stood at a moment: figures, cash, positions, prices and FX used.
    Kept for compliance: never updated or deleted (the database refuses it too)."""

    call = models.ForeignKey(MarginCall, on_delete=models.PROTECT, related_name="snapshots")
    kind = models.CharField(_("kind"), max_length=16, choices=SnapshotKind)
    # What makes a snapshot unique for its call (e.g. "trigger", "daily:2026-11-20"), so a task that
    # runs twice writes one snapshot.
    key = models.CharField(max_length=64)
    taken_at = models.DateTimeField(_("taken at"), validators=[validate_possible_time])
    nav_ratio = models.DecimalField(
        _("net asset ratio"), max_digits=RATIO_DIGITS, decimal_places=RATIO_PLACES, null=True, blank=True
    )
    call_amount = figure_field(_("call amount"))
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType, blank=True)
    book = models.JSONField(_("figures, cash, positions, prices and FX"))

    class Meta:
        ordering = ["taken_at", "pk"]
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        constraints = [
            models.UniqueConstraint(fields=["call", "key"], name="call_snapshot_once_per_key"),
            possible_time("taken_at"),
        ]

    def __str__(self):
        return f"{self.kind} {self.taken_at:%Y-%m-%d %H:%M}"
