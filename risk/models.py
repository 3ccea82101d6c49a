"""The broker's book (desks, accounts, instruments, cash, positions, FX), the rule sets risk admins
edit, and each account's latest computed figures."""

import datetime as dt
import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .querysets import AccountQuerySet, MarginCallQuerySet
from .times import EARLIEST, END, validate_possible_time

# Storage precision. Book inputs keep what upstream sends; computed figures are stored rounded.
AMOUNT_DIGITS, AMOUNT_PLACES = 24, 4
PRICE_DIGITS, PRICE_PLACES = 20, 6
FX_DIGITS, FX_PLACES = 20, 8
RATE_DIGITS, RATE_PLACES = 9, 6
FIGURE_DIGITS, FIGURE_PLACES = 24, 2
RATIO_DIGITS, RATIO_PLACES = 12, 4

HKD = "HKD"


def possible_time(field: str) -> models.CheckConstraint:
    """The database refuses a time outside what the system keeps (risk/times.py), whatever the path."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": EARLIEST, f"{field}__lt": END}) | Q(**{f"{field}__isnull": True}),
        name=f"%(app_label)s_%(class)s_{field}_possible",
    )


def amount_field(verbose_name, **kwargs):
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(verbose_name, max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, **kwargs)


def figure_field(verbose_name):
    return models.DecimalField(verbose_name, max_digits=FIGURE_DIGITS, decimal_places=FIGURE_PLACES)


def validate_rate(value):
    if value is not None and not (Decimal("0") <= value <= Decimal("1")):
        raise ValidationError(
            _("A margin rate is a fraction of market value between 0 and 1; %(value)s is outside it."),
            params={"value": value},
            code="rate_out_of_range",
        )


def rate_field(verbose_name, **kwargs):
    return models.DecimalField(
        verbose_name,
        max_digits=RATE_DIGITS,
        decimal_places=RATE_PLACES,
        validators=[validate_rate],
        **kwargs,
    )


class Desk(models.Model):
    """A team or branch. Users see the accounts of the desks they are granted (django-guardian)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("desk")
        verbose_name_plural = _("desks")

    def __str__(self):
        return f"{self.code} {self.name}".strip()


class AccountKind(models.TextChoices):
    MARGIN = "margin", _("Margin")
    INTRADAY = "intraday", _("Intraday")
    CASH = "cash", _("Cash")


class Language(models.TextChoices):
    EN = "en", "English"
    ZH_HANS = "zh-hans", "简体中文"
    ZH_HANT = "zh-hant", "繁體中文"


class Account(models.Model):
    account_no = models.CharField(_("account number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind, default=AccountKind.MARGIN)
    desk = models.ForeignKey(
        Desk, verbose_name=_("desk"), on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    credit_limit = amount_field(_("credit limit"))
    accrued_interest = amount_field(_("accrued interest"))
    debt_margin = amount_field(_("debt margin"))
    trading_limit = amount_field(_("trading limit"))
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("preferred language"), max_length=8, choices=Language, default=Language.EN)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        permissions = [
            ("view_console", "Can view the Margin Call console"),
            ("act_console", "Can act in the Margin Call console"),
        ]

    def __str__(self):
        return f"{self.account_no} {self.name}".strip()


class FxRate(models.Model):
    """The current rate of a currency: HKD per one unit, as of the time upstream sent it."""

    currency = models.CharField(_("currency"), max_length=3, unique=True)
    rate = models.DecimalField(
        _("HKD per unit"),
        max_digits=FX_DIGITS,
        decimal_places=FX_PLACES,
        validators=[MinValueValidator(Decimal("0.00000001"))],
    )
    as_of = models.DateTimeField(_("as of"), default=timezone.now, validators=[validate_possible_time])

    class Meta:
        ordering = ["currency"]
        verbose_name = _("FX rate")
        verbose_name_plural = _("FX rates")
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"), possible_time("as_of")]

    def __str__(self):
        return f"{self.currency} {self.rate}"


class InstrumentKind(models.TextChoices):
    STOCK = "stock", _("Stock")
    OPTION = "option", _("Option")


class InstrumentStatus(models.TextChoices):
    NORMAL = "normal", _("Normal")
    SUSPENDED = "suspended", _("Suspended")
    LONG_SUSPENDED = "long_suspended", _("Long suspended")
    DELISTED = "delisted", _("Delisted")


class OptionType(models.TextChoices):
    CALL = "call", _("Call")
    PUT = "put", _("Put")


class Instrument(models.Model):
    symbol = models.CharField(_("symbol"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=InstrumentKind, default=InstrumentKind.STOCK)
    currency = models.CharField(_("currency"), max_length=3, default=HKD)
    lot_size = models.PositiveIntegerField(_("lot size"), default=1, validators=[MinValueValidator(1)])
    multiplier = models.PositiveIntegerField(_("multiplier"), default=1, validators=[MinValueValidator(1)])
    status = models.CharField(_("status"), max_length=16, choices=InstrumentStatus, default=InstrumentStatus.NORMAL)
    price = models.DecimalField(_("price"), max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, default=Decimal("0"))
    price_time = models.DateTimeField(_("price time"), null=True, blank=True, validators=[validate_possible_time])
    im_rate = rate_field(_("initial margin rate"), default=Decimal("0"))
    mm_rate = rate_field(_("maintenance margin rate"), default=Decimal("0"))
    fm_rate = rate_field(_("force-liquidation margin rate"), default=Decimal("0"))
    short_im_rate = rate_field(_("short initial margin rate"), null=True, blank=True)
    short_mm_rate = rate_field(_("short maintenance margin rate"), null=True, blank=True)
    short_fm_rate = rate_field(_("short force-liquidation margin rate"), null=True, blank=True)
    underlying = models.ForeignKey(
        "self",
        verbose_name=_("underlying"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="derivatives",
    )
    option_type = models.CharField(_("option type"), max_length=4, choices=OptionType, blank=True)
    strike = models.DecimalField(
        _("strike"), max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True
    )
    expiry = models.DateField(_("expiry"), null=True, blank=True)

    class Meta:
        ordering = ["symbol"]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="instrument_price_not_negative"),
            possible_time("price_time"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{rate}__gte": 0, f"{rate}__lte": 1}) | Q(**{f"{rate}__isnull": True}),
                    name=f"instrument_{rate}_0_to_1",
                )
                for rate in ("im_rate", "mm_rate", "fm_rate", "short_im_rate", "short_mm_rate", "short_fm_rate")
            ],
        ]

    def __str__(self):
        return self.symbol


class CashBalance(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cash_balances")
    currency = models.CharField(_("currency"), max_length=3)
    amount = amount_field(_("amount"))

    class Meta:
        ordering = ["account", "currency"]
        verbose_name = _("cash balance")
        verbose_name_plural = _("cash balances")
        constraints = [
            models.UniqueConstraint(fields=["account", "currency"], name="cash_one_row_per_currency"),
        ]

    def __str__(self):
        return f"{self.currency} {self.amount}"


class Position(models.Model):
    """A holding; a short position has a negative quantity."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    quantity = models.BigIntegerField(_("quantity"))

    class Meta:
        ordering = ["account", "instrument"]
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        constraints = [
            models.UniqueConstraint(fields=["account", "instrument"], name="position_one_per_instrument"),
        ]
        # The unique constraint indexes (account, instrument); holders of an instrument need this one.
        indexes = [models.Index(fields=["instrument", "account"], name="position_by_instrument")]

    def __str__(self):
        return f"{self.quantity} {self.instrument}"


class PendingRecompute(models.Model):
    """An instrument whose price moved and whose holders' figures have not yet followed it.

    Written in the same transaction as the price; removed by the recompute that follows it, and only
    if no newer price came meanwhile (``version``). The sweep (``recompute_pending``) takes up any row
    left too long, e.g. when a worker died between the two, so a price is never left without its
    recompute. ``since`` is when the oldest price not yet followed was stored: the figures' lag."""

    instrument = models.OneToOneField(
        Instrument, verbose_name=_("instrument"), on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    since = models.DateTimeField(_("waiting since"), validators=[validate_possible_time])
    version = models.BigIntegerField(_("prices since then"), default=1)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["since"]
        verbose_name = _("recompute waiting")
        verbose_name_plural = _("recomputes waiting")
        constraints = [possible_time("since")]

    def __str__(self):
        return f"{self.instrument_id} since {self.since:%Y-%m-%d %H:%M:%S}"


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
    long_outstanding_days = models.PositiveSmallIntegerField(
        _("long outstanding after (days)"), default=90, validators=[MinValueValidator(1)]
    )
    snapshot_time = models.TimeField(
        _("daily snapshot time"),
        default=dt.time(16, 30),
        help_text=_("Hong Kong time at which every open call's daily snapshot is taken."),
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


class AccountRisk(models.Model):
    """An account's latest figures (SPEC §3), stored so pages read them instead of recomputing."""

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
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("account figures")
        verbose_name_plural = _("account figures")
        indexes = [models.Index(fields=["call_type"], name="account_risk_call_type")]

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


class CallStatus(models.TextChoices):
    OPEN = "open", _("Open")
    EXCEPTION = "exception", _("Exception")
    CLOSED = "closed", _("Closed")


class CloseCause(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    LIQUIDATION = "liquidation", _("Liquidation")
    MARKET = "market", _("Market")


class MarginCall(models.Model):
    """A margin call (SPEC §4): opened when an account gets a call type, closed when its call amount
    reaches 0. Its live figures are the account's (AccountRisk); what it keeps is its own history."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="calls")
    # The account's kind, kept here so each page's list reads one table.
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind)
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
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, validators=[validate_possible_time])
    close_cause = models.CharField(_("close cause"), max_length=16, choices=CloseCause, blank=True)
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
                for field in ("triggered_at", "deadline", "closed_at", "auto_liquidate_at", "exception_at")
            ],
        ]
        indexes = [
            models.Index(
                fields=["kind", "status", "-call_amount"],
                condition=Q(closed_at__isnull=True),
                name="margin_call_open_by_amount",
            ),
            models.Index(fields=["-closed_at"], name="margin_call_closed_at"),
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


class SnapshotKind(models.TextChoices):
    TRIGGER = "trigger", _("At trigger")
    FORCE_CALL = "force_call", _("At force call")
    DAILY = "daily", _("Daily")
    CLOSE = "close", _("At close")


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

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"


class ApiToken(models.Model):
    """A token upstream systems send as ``Authorization: Bearer <token>``. Only its SHA-256 is kept."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self) -> str:
        """Give this token a new secret and return it; it is shown once and never stored."""
        token = secrets.token_urlsafe(32)
        self.prefix, self.digest = token[:8], self.hash(token)
        return token
