"""The broker's book: desks, accounts, instruments, FX rates, cash, positions, the securities
the prime broker can lend, the prices still owed a recompute, and the tokens upstream systems use."""

import hashlib
import re
import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.text import validate_address, validate_key

from .querysets import AccountQuerySet
from .times import EARLIEST, END, validate_possible_date, validate_possible_time

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


# An amount in the book is at most 10**19 either way: SQLite (the embedded default) keeps a larger one as
# a binary float, which can round past the column's digits and then cannot be read back.
AMOUNT_LIMIT = Decimal(10**19)
# A price or a strike likewise: at most 10**13, which SQLite reads back within the column's digits.
PRICE_LIMIT = Decimal(10**13)
PRICE_BOUNDS = [MinValueValidator(Decimal("0")), MaxValueValidator(PRICE_LIMIT)]


def amount_field(verbose_name, **kwargs):
    kwargs.setdefault("default", Decimal("0"))
    kwargs.setdefault("validators", [MinValueValidator(-AMOUNT_LIMIT), MaxValueValidator(AMOUNT_LIMIT)])
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


# A phone number as a book or an admin may write it: digits, perhaps a leading +, spaces, dashes, dots
# or brackets between them; 6 to 15 digits (E.164's longest).
PHONE = re.compile(r"\+?[0-9()][0-9 ()./-]*")
PHONE_RULE = "6 to 15 digits, with perhaps a leading + and spaces, dashes, dots or brackets"  # as files say it


def not_a_phone(text: str) -> bool:
    digits = sum(char.isdigit() for char in text)
    return not (text.isascii() and PHONE.fullmatch(text.strip()) and 6 <= digits <= 15)


def validate_phone(value: str) -> None:
    if value and not_a_phone(value):
        raise ValidationError(
            _("Not a phone number: 6 to 15 digits, with perhaps a leading + and spaces, dashes, dots or brackets."),
            code="not_a_phone",
        )


def option_expired(kind: str, expiry, today) -> bool:
    """An option past its expiry day (``today``: Hong Kong's date): it no longer trades, and its short
    calls need no cover."""
    return kind == "option" and expiry is not None and expiry < today


OPTION_TERMS = ("underlying", "option_type", "strike", "expiry")


def missing_option_terms(kind: str, terms: dict) -> list[str]:
    """The terms an option lacks (its underlying, call or put, strike, expiry): without them its cover,
    its recovery and its expiry cannot be told. None for any other kind."""
    if kind != "option":
        return []
    return [name for name in OPTION_TERMS if terms.get(name) in (None, "")]


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

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[validate_key])
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("desk")
        verbose_name_plural = _("desks")
        constraints = [
            models.UniqueConstraint(
                Upper("code"),
                name="desk_code_unique_in_any_case",
                violation_error_message=_("A desk with this code in other capitals exists."),
            )
        ]

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


NOT_NEGATIVE_AMOUNT = [MinValueValidator(Decimal("0")), MaxValueValidator(AMOUNT_LIMIT)]


class Account(models.Model):
    account_no = models.CharField(_("account number"), max_length=32, unique=True, validators=[validate_key])
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind, default=AccountKind.MARGIN)
    desk = models.ForeignKey(
        Desk, verbose_name=_("desk"), on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    credit_limit = amount_field(_("credit limit"), validators=NOT_NEGATIVE_AMOUNT)
    accrued_interest = amount_field(_("accrued interest"), validators=NOT_NEGATIVE_AMOUNT)
    debt_margin = amount_field(_("debt margin"), validators=NOT_NEGATIVE_AMOUNT)
    trading_limit = amount_field(_("trading limit"), validators=NOT_NEGATIVE_AMOUNT)
    email = models.EmailField(_("email"), blank=True, validators=[validate_address])
    phone = models.CharField(_("phone"), max_length=32, blank=True, validators=[validate_phone])
    language = models.CharField(_("preferred language"), max_length=8, choices=Language, default=Language.EN)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            # m100001 and M100001 would read as one account on the desk's screen and in a notice.
            models.UniqueConstraint(
                Upper("account_no"),
                name="account_no_unique_in_any_case",
                violation_error_message=_("An account with this number in other capitals exists."),
            )
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
    # What moves its holders' figures, in the order of the engine's InstrumentTerms.
    TERM_FIELDS = (
        "price",
        "currency",
        "multiplier",
        "status",
        "im_rate",
        "mm_rate",
        "fm_rate",
        "short_im_rate",
        "short_mm_rate",
        "short_fm_rate",
    )

    symbol = models.CharField(_("symbol"), max_length=32, unique=True, validators=[validate_key])
    name = models.CharField(_("name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=InstrumentKind, default=InstrumentKind.STOCK)
    currency = models.CharField(_("currency"), max_length=3, default=HKD)
    lot_size = models.PositiveIntegerField(_("lot size"), default=1, validators=[MinValueValidator(1)])
    multiplier = models.PositiveIntegerField(_("multiplier"), default=1, validators=[MinValueValidator(1)])
    status = models.CharField(_("status"), max_length=16, choices=InstrumentStatus, default=InstrumentStatus.NORMAL)
    price = models.DecimalField(
        _("price"),
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_PLACES,
        default=Decimal("0"),
        validators=PRICE_BOUNDS,
    )
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
        limit_choices_to={"kind": "stock"},  # an option's cover is shares of its underlying
    )
    option_type = models.CharField(_("option type"), max_length=4, choices=OptionType, blank=True)
    strike = models.DecimalField(
        _("strike"),
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=PRICE_BOUNDS,
    )
    expiry = models.DateField(_("expiry"), null=True, blank=True, validators=[validate_possible_date])
    shortable = models.BooleanField(
        _("may be sold short"),
        default=True,
        help_text=_("Off for stock that may not be sold short (not an HKEX designated security, say)."),
    )
    # A tick outside its kind's price band (PriceBand), held until a later tick near it confirms it.
    held_price = models.DecimalField(
        _("held price"),
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=PRICE_BOUNDS,
        help_text=_(
            "A tick that moved the price by more than its price band, not applied: a later tick within the band "
            "of it confirms it. Changing the price or its time here clears it."
        ),
    )
    held_time = models.DateTimeField(_("held price time"), null=True, blank=True, validators=[validate_possible_time])

    class Meta:
        ordering = ["symbol"]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")
        # The few instruments with a held tick, read by every page that says how fresh its figures are.
        indexes = [models.Index(fields=["symbol"], condition=Q(held_price__isnull=False), name="instrument_held")]
        constraints = [
            models.UniqueConstraint(
                Upper("symbol"),
                name="symbol_unique_in_any_case",
                violation_error_message=_("An instrument with this symbol in other capitals exists."),
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="instrument_price_not_negative"),
            possible_time("price_time"),
            possible_time("held_time"),
            models.CheckConstraint(
                condition=Q(held_price__gt=0) | Q(held_price__isnull=True), name="instrument_held_price_positive"
            ),
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


MAX_BAND_PERCENT = Decimal("10000")


class PriceBand(models.Model):
    """How far one tick from the feed may move an instrument's price, per kind of instrument (not the rule
    set's order price band): a tick further from the stored price is held (not applied) until a later one
    within the band of it confirms it. A single stray tick then never calls or liquidates anyone; a real
    move costs one tick's wait."""

    kind = models.CharField(_("kind of instrument"), max_length=8, choices=InstrumentKind, unique=True)
    max_move = models.DecimalField(
        _("largest move of one tick (%)"),
        max_digits=7,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_BAND_PERCENT)],
        help_text=_(
            "In percent of the stored price (20 is 20%): a tick from the feed whose price is further than this "
            "from the stored price is held until a later tick within this of the held price confirms it. No band: "
            "every tick is applied."
        ),
    )

    class Meta:
        ordering = ["kind"]
        verbose_name = _("price band")
        verbose_name_plural = _("price bands")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_move__gt=0, max_move__lte=MAX_BAND_PERCENT), name="price_band_max_move_in_range"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.max_move}%"


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
    # Indexed by position_holders below, which leads with the instrument.
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions", db_index=False)
    quantity = models.BigIntegerField(_("quantity"))

    class Meta:
        ordering = ["account", "instrument"]
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        constraints = [
            models.UniqueConstraint(fields=["account", "instrument"], name="position_one_per_instrument"),
        ]
        # The unique constraint indexes (account, instrument). The holders of an instrument and their
        # quantities (what a price move needs) come from this one alone, without reading the table.
        indexes = [models.Index(fields=["instrument", "account"], include=["quantity"], name="position_holders")]

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


class ApiScope(models.TextChoices):
    """What a token may post: one API each. A price feed's token need not report notice deliveries."""

    TICKS = "ticks", _("prices (POST /api/ticks)")
    LENDING = "lending", _("lending (POST /api/lending)")
    NOTICE_STATUS = "notice_status", _("notice delivery reports (POST /api/notices/status)")


ALL_SCOPES = ",".join(ApiScope.values)


def validate_scopes(value: str) -> None:
    unknown = sorted(set(value.split(",")) - set(ApiScope.values)) if value else ["(none)"]
    if unknown:
        raise ValidationError(
            _("Unknown scope %(scope)s: a token may post %(scopes)s."),
            code="scope",
            params={"scope": ", ".join(unknown), "scopes": ", ".join(ApiScope.values)},
        )


class ApiToken(models.Model):
    """A token upstream systems send as ``Authorization: Bearer <token>``. Only its SHA-256 is kept.
    It may post to the APIs of its ``scopes`` (comma-separated :class:`ApiScope` values), all by default."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    scopes = models.CharField(_("may post"), max_length=100, default=ALL_SCOPES, validators=[validate_scopes])
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

    def allows(self, scope: str) -> bool:
        return scope in self.scopes.split(",")

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self) -> str:
        """Give this token a new secret and return it; it is shown once and never stored."""
        token = secrets.token_urlsafe(32)
        self.prefix, self.digest = token[:8], self.hash(token)
        return token


class LendingAvailability(models.Model):
    """Shares of a stock the prime broker can lend, as last reported upstream."""

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, primary_key=True, related_name="lending")
    lendable = models.BigIntegerField(_("lendable shares"))
    as_of = models.DateTimeField(_("as of"), default=timezone.now, validators=[validate_possible_time])

    class Meta:
        verbose_name = _("lending availability")
        verbose_name_plural = _("lending availability")
        constraints = [
            models.CheckConstraint(condition=models.Q(lendable__gte=0), name="lendable_not_negative"),
            possible_time("as_of"),
        ]

    def __str__(self):
        return f"{self.instrument} {self.lendable}"
