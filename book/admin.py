from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from guardian.admin import GuardedModelAdmin

from console import audit
from console.admin import (
    AdminFields,
    GuardedKeys,
    ModelAdmin,
    PreviewedSave,
    ReadOnlyAdmin,
    SaveRefused,
    TabularInline,
    admin_detail,
)
from console.text import first_few

from .book_format import CURRENCY_CODE
from .models import (
    ALL_SCOPES,
    HKD,
    OPTION_TERMS,
    Account,
    ApiScope,
    ApiToken,
    CashBalance,
    Desk,
    FxRate,
    Instrument,
    InstrumentKind,
    LendingAvailability,
    PendingRecompute,
    Position,
    PriceBand,
    missing_option_terms,
    validate_key,
)
from .signals import BookEffect, book_written
from .times import feed_floor


def recompute_after_edit(request, account_ids=(), instrument_ids=(), currencies=()):
    """The apps above the book follow an edit made here (the risk app recomputes what it moved). An
    account this edit leaves unable to be recomputed (a figure too large to store) refuses the save,
    naming it; one that could not be recomputed before the edit either is only warned of."""
    now = timezone.now()
    failed, warnings = {}, []
    for _receiver, effect in book_written.send(
        sender=admin.ModelAdmin,
        account_ids=set(account_ids),
        instrument_ids=set(instrument_ids),
        currencies=set(currencies),
        account_nos=[],
        deposits=(),
        at=now,
        now=now,
        by_admin=True,
    ):
        if isinstance(effect, BookEffect):
            failed.update(effect.failed)
            warnings += effect.warnings
    if failed:
        shown = sorted(failed.items())
        raise SaveRefused(
            ngettext(
                "%(count)d account could not be recomputed: %(why)s",
                "%(count)d accounts could not be recomputed: %(why)s",
                len(failed),
            )
            % {
                "count": len(failed),
                "why": first_few((f"{no}: {why}" for no, why in shown), separator="; "),
            },
        )
    for warning in warnings[:5]:
        messages.warning(request, warning)


def priced_currency(code: str) -> str:
    """A currency the engine can value: HKD, or one with an FX rate (else every holder's figures stop)."""
    if not CURRENCY_CODE.fullmatch(code):
        raise forms.ValidationError(_("Enter a 3-letter upper-case currency code, such as USD."), code="code")
    if code != HKD and not FxRate.objects.filter(currency=code).exists():
        raise forms.ValidationError(
            _("There is no FX rate for %(currency)s: add it under FX rates first."),
            code="no_fx_rate",
            params={"currency": code},
        )
    return code


def not_ahead(form: forms.ModelForm, name: str, message):
    """A time the admin enters may be at most FEED_MAX_AHEAD_SECONDS ahead of now, as a feed's: stamped
    ahead, every report until then would be refused as older than it."""
    moment = form.cleaned_data.get(name)
    ahead = moment is not None and (moment - timezone.now()).total_seconds() > settings.FEED_MAX_AHEAD_SECONDS
    if ahead and name in form.changed_data:
        raise forms.ValidationError(message, code="ahead", params={"seconds": f"{settings.FEED_MAX_AHEAD_SECONDS:g}"})
    return moment


def not_before_floor(moment, message):
    """A time the admin enters for what a feed also sends (a price, a lending report) may not be before
    FEED_TIME_FLOOR, as the feed's may not."""
    if moment is not None and moment < feed_floor():
        raise forms.ValidationError(message, code="floor", params={"floor": settings.FEED_TIME_FLOOR})
    return moment


AS_OF_AHEAD = _("The as-of time may be at most %(seconds)s seconds ahead of now.")


class InstrumentForm(forms.ModelForm):
    def clean_currency(self):
        return priced_currency(self.cleaned_data["currency"])

    def clean_price_time(self):
        moment = not_ahead(self, "price_time", _("The price time may be at most %(seconds)s seconds ahead of now."))
        if "price_time" not in self.changed_data:
            return moment
        if moment is None and self.instance.pk is not None and self.instance.price_time is not None:
            # With no time, the feed's next tick is stored whatever its time: an old one would replace it.
            raise forms.ValidationError(
                _("A price that has a time keeps one: the feed refuses a tick older than it."), code="cleared"
            )
        return not_before_floor(moment, _("The price time may not be before %(floor)s, the earliest a feed may send."))

    def clean(self):
        data = super().clean()
        # Initial at least maintenance, maintenance at least force-liquidation: in any other order a call
        # opens before the margin it guards, or a force call comes before the margin call.
        long = [data.get(name) for name in ("im_rate", "mm_rate", "fm_rate")]
        # a short rate not given is the long one
        short = [
            data.get(f"short_{name}") if data.get(f"short_{name}") is not None else rate
            for name, rate in zip(("im_rate", "mm_rate", "fm_rate"), long, strict=True)
        ]
        messages = {
            "long": _(
                "The long rates must run initial ≥ maintenance ≥ force-liquidation; got %(initial)s,"
                " %(maintenance)s, %(force)s."
            ),
            "short": _(
                "The short rates (each the long one where not given) must run initial ≥ maintenance ≥"
                " force-liquidation; got %(initial)s, %(maintenance)s, %(force)s."
            ),
        }
        if (
            self.instance.pk
            and data.get("kind", InstrumentKind.STOCK) != InstrumentKind.STOCK
            and (options := list(self.instance.derivatives.order_by("symbol").values_list("symbol", flat=True)[:4]))
        ):
            # Its options' cover is shares of it, and recovery buys them.
            self.add_error(
                "kind",
                forms.ValidationError(
                    _("%(symbol)s is the underlying of %(options)s; an underlying must be a stock."),
                    code="underlying_kind",
                    params={
                        "symbol": self.instance.symbol,
                        "options": ", ".join(options[:3]) + ", …" * (len(options) > 3),
                    },
                ),
            )
        if self.instance.pk and data.get("underlying") is not None and data["underlying"].pk == self.instance.pk:
            self.add_error("underlying", _("An instrument cannot be its own underlying."))
        if data.get("kind") == InstrumentKind.STOCK:
            given = [name for name in OPTION_TERMS if data.get(name) not in (None, "")]
            if given:  # a stock with a strike reads as an option to whoever looks at it
                raise forms.ValidationError(
                    _("A stock has no option terms; clear %(terms)s, or make it an option."),
                    code="stock_option_terms",
                    params={"terms": ", ".join(str(self.fields[name].label) for name in given)},
                )
        missing = [name for name in missing_option_terms(data.get("kind", ""), data) if name not in self.errors]
        if missing:
            raise forms.ValidationError(
                _("An option needs its underlying, option type, strike and expiry; missing: %(missing)s."),
                code="option_terms",
                params={"missing": ", ".join(missing)},
            )
        for side, rates in (("long", long), ("short", short)):
            if None in rates:  # refused already, with its own error
                continue
            initial, maintenance, force = rates
            if not initial >= maintenance >= force:
                raise forms.ValidationError(
                    messages[side],
                    code="rate_order",
                    params={"initial": initial, "maintenance": maintenance, "force": force},
                )
        return data


class CashBalanceForm(forms.ModelForm):
    def clean_currency(self):
        return priced_currency(self.cleaned_data["currency"])


class FxRateForm(forms.ModelForm):
    def clean_currency(self):
        code = self.cleaned_data["currency"]
        if not CURRENCY_CODE.fullmatch(code):
            raise forms.ValidationError(_("Enter a 3-letter upper-case currency code, such as USD."), code="code")
        if code == HKD:
            raise forms.ValidationError(_("HKD is always 1: it takes no rate."), code="hkd")
        return code

    def clean_as_of(self):
        return not_ahead(self, "as_of", AS_OF_AHEAD)


class LendingAvailabilityForm(forms.ModelForm):
    class Meta:
        model = LendingAvailability
        fields = ["instrument", "lendable", "as_of"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "instrument" in self.fields:  # only a stock is lent (as /api/lending and the import say)
            self.fields["instrument"].queryset = Instrument.objects.filter(kind=InstrumentKind.STOCK)

    def clean_lendable(self):
        lendable = self.cleaned_data.get("lendable")
        if lendable is not None and lendable < 0:
            raise forms.ValidationError(_("Lendable shares cannot be negative."), code="negative")
        return lendable

    def clean_as_of(self):
        moment = not_ahead(self, "as_of", AS_OF_AHEAD)
        if "as_of" not in self.changed_data:
            return moment
        return not_before_floor(moment, _("The as-of time may not be before %(floor)s, the earliest a feed may send."))


@admin.register(Desk)
class DeskAdmin(GuardedKeys, AdminFields, GuardedModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class CashBalanceInline(TabularInline):
    model = CashBalance
    form = CashBalanceForm
    extra = 0


class PositionInline(TabularInline):
    model = Position
    extra = 0
    autocomplete_fields = ["instrument"]


@admin.register(Account)
class AccountAdmin(PreviewedSave, ModelAdmin):
    list_display = ["account_no", "name", "kind", "desk"]
    list_filter = ["kind", "desk"]
    search_fields = ["account_no", "name"]
    list_select_related = ["desk"]
    inlines = [CashBalanceInline, PositionInline]

    def get_readonly_fields(self, request, obj=None):
        # The key the upstream's files, the commands and the console name it by: renamed, the next import
        # of the old number would make a second account.
        return ["account_no"] if obj is not None else []

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A position set to 0 is none, as the book import has it: its row goes, audited as a deletion.
        closed = list(Position.objects.filter(account=form.instance, quantity=0).select_related("instrument"))
        if closed:
            details = [admin_detail(position) for position in closed]
            Position.objects.filter(pk__in=[position.pk for position in closed]).delete()
            audit.record_each(request.user, "admin_delete", details)
        recompute_after_edit(request, account_ids=[form.instance.pk])


class HeldPriceFilter(admin.SimpleListFilter):
    title = _("held price")
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", _("Held by its price band"))]

    def queryset(self, request, queryset):
        return queryset.filter(held_price__isnull=False) if self.value() == "yes" else queryset


@admin.register(Instrument)
class InstrumentAdmin(PreviewedSave, ModelAdmin):
    form = InstrumentForm
    list_display = [
        "symbol",
        "name",
        "kind",
        "currency",
        "price",
        "held_price",
        "status",
        "im_rate",
        "mm_rate",
        "fm_rate",
    ]
    list_filter = [HeldPriceFilter, "kind", "status", "currency"]
    search_fields = ["symbol", "name"]
    autocomplete_fields = ["underlying"]

    def get_readonly_fields(self, request, obj=None):
        # The key the price feed, the lending report and the files name it by: renamed, their next items
        # would be refused as an unknown symbol (or make a second instrument). A held price is the feed's.
        return ["symbol", "held_price", "held_time"] if obj is not None else ["held_price", "held_time"]

    def get_fields(self, request, obj=None):
        """As the model has them, the read-only ones where they belong: the symbol first, the held price
        beside the price (the admin puts read-only fields last)."""
        fields = [
            name for name in super().get_fields(request, obj) if name not in ("symbol", "held_price", "held_time")
        ]
        after = fields.index("price_time") + 1
        return ["symbol", *fields[:after], "held_price", "held_time", *fields[after:]]

    def save_model(self, request, obj, form, change):
        if {"price", "price_time"} & set(form.changed_data):  # the admin has said what the price is, as of when
            obj.held_price = obj.held_time = None
        super().save_model(request, obj, form, change)
        recompute_after_edit(request, instrument_ids=[obj.pk])


@admin.register(PriceBand)
class PriceBandAdmin(ModelAdmin):
    """How far one tick may move a price, per kind of instrument (book.ticks holds a tick beyond it)."""

    list_display = ["kind", "max_move"]


@admin.register(FxRate)
class FxRateAdmin(PreviewedSave, ModelAdmin):
    form = FxRateForm
    list_display = ["currency", "rate", "as_of"]

    def get_readonly_fields(self, request, obj=None):
        # A rate is its currency's: renamed, the instruments and cash in the old one would lose theirs.
        return ["currency"] if obj is not None else []

    def get_deleted_objects(self, objs, request):
        """A rate an instrument or a cash line is in is protected: without it their holders' figures,
        plans and snapshots stop."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        currencies = [rate.currency for rate in objs]
        instruments, lines = (
            dict(model.objects.filter(currency__in=currencies).values_list("currency").annotate(Count("pk")))
            for model in (Instrument, CashBalance)
        )
        for currency in currencies:
            if instruments.get(currency) or lines.get(currency):
                protected = [
                    *protected,
                    _("%(currency)s: in %(instruments)d instrument(s) and %(lines)d cash line(s)")
                    % {
                        "currency": currency,
                        "instruments": instruments.get(currency, 0),
                        "lines": lines.get(currency, 0),
                    },
                ]
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        recompute_after_edit(request, currencies=[obj.currency])


@admin.register(PendingRecompute)
class PendingRecomputeAdmin(ReadOnlyAdmin):
    """Prices whose holders' figures have not followed them yet: normally empty or a moment old."""

    list_display = ["instrument", "since", "version", "attempts", "last_error"]
    list_select_related = ["instrument"]


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("may post"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The APIs this token may post to; a request to another is refused (403)."),
        error_messages={"required": _("Tick at least one API: a token that may post nothing is of no use.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scopes = self.instance.scopes if self.instance.pk else ALL_SCOPES
        self.initial["scopes"] = scopes.split(",") if scopes else []

    def clean_scopes(self):
        return ",".join(scope for scope in ApiScope.values if scope in self.cleaned_data["scopes"])

    def clean_name(self):
        """A token is told apart by its name in the logs ("ticks from price-feed"): a name read as a key,
        with no invisible character, not another token's in other capitals."""
        name = self.cleaned_data["name"]
        try:
            validate_key(name)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        if ApiToken.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another token has this name in other capitals."), code="taken")
        return name


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    """Creating a token shows its secret once; only its hash is kept. Deactivate to revoke."""

    form = ApiTokenForm

    list_display = ["name", "prefix", "scopes", "active", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "scopes", "active", "prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        token = obj.issue() if not change else None
        super().save_model(request, obj, form, change)
        if token:
            messages.warning(
                request,
                _("The token for %(name)s is %(token)s. Copy it now: it is not kept and will not be shown again.")
                % {"name": obj.name, "token": token},
            )


@admin.register(LendingAvailability)
class LendingAvailabilityAdmin(ModelAdmin):
    form = LendingAvailabilityForm
    list_display = ["instrument", "lendable", "as_of"]
    search_fields = ["instrument__symbol"]
    list_select_related = ["instrument"]

    def get_readonly_fields(self, request, obj=None):
        # The stock is the row's key: changed, the form would write over another stock's pool.
        return ["instrument"] if obj is not None else []
