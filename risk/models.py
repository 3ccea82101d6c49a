"""The broker's book (desks, accounts, instruments, cash, positions, FX), the rule sets risk admins
edit, and each account's latest computed figures."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Storage precision. Book inputs keep what upstream sends; computed figures are stored rounded.
AMOUNT_DIGITS, AMOUNT_PLACES = 24, 4
PRICE_DIGITS, PRICE_PLACES = 20, 6
FX_DIGITS, FX_PLACES = 20, 8
RATE_DIGITS, RATE_PLACES = 9, 6
FIGURE_DIGITS, FIGURE_PLACES = 24, 2
RATIO_DIGITS, RATIO_PLACES = 12, 4

HKD = "HKD"


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
    as_of = models.DateTimeField(_("as of"), default=timezone.now)

    class Meta:
        ordering = ["currency"]
        verbose_name = _("FX rate")
        verbose_name_plural = _("FX rates")
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive")]

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
    price_time = models.DateTimeField(_("price time"), null=True, blank=True)
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
        validators=[MinValueValidator(1)],
        help_text=_("A call's deadline is the close of this many HKEX sessions after its trigger."),
    )
    long_outstanding_days = models.PositiveSmallIntegerField(
        _("long outstanding after (days)"), default=90, validators=[MinValueValidator(1)]
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["account_kind"]
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        constraints = [
            models.CheckConstraint(condition=Q(call_coefficient__gte=0), name="rule_set_coefficient_not_negative"),
            models.CheckConstraint(condition=Q(deadline_sessions__gte=1), name="rule_set_deadline_at_least_1"),
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
