from datetime import timedelta

from django import forms
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from book.models import Instrument
from console.fields import OUT_OF_DATE, DateField, DateTimeField, IntegerField
from console.lists import sort_choices
from console.text import fold, key_problem, printable
from risk.forms import MAX_PAGE, CallIdsField, TextField

from .models import OrderStatus, Source

ORDER_SORTS = {
    "created": "created_at",
    "account": "account__account_no",
    "symbol": "instrument__symbol",
    "status": "status",
    "quantity": "quantity",
}


class OrderFilterForm(forms.Form):
    q = TextField(label=_("Account"), max_length=32, required=False)
    desk = forms.ChoiceField(label=_("Desk"), choices=[("", _("All desks"))], required=False)
    symbol = TextField(label=_("Stock"), max_length=32, required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("All statuses")), ("working", _("Working")), *OrderStatus.choices],
        required=False,
    )
    source = forms.ChoiceField(label=_("Source"), choices=[("", _("All sources")), *Source.choices], required=False)
    by = TextField(label=_("By"), max_length=150, required=False)
    day = DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        label=_("Sort"),
        choices=sort_choices(ORDER_SORTS),
        required=False,
    )
    page = IntegerField(label=_("Page"), min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, data, *, desks):
        super().__init__(data)
        self.fields["desk"].choices = [("", _("All desks")), *[(desk.code, str(desk)) for desk in desks]]


AUTO_HORIZON = timedelta(days=366)


MAX_ONLY = 200  # stocks in "only these stocks"


class BatchForm(forms.Form):
    """The Risk Warning batch bar's liquidation actions (and the details' auto-liquidation setting)."""

    calls = CallIdsField()
    action = forms.ChoiceField(
        label=pgettext_lazy("form field", "Action"),
        choices=[
            ("liquidate", _("Liquidate")),
            ("auto", _("Auto-liquidate at")),
            ("auto_deadline", _("Auto-liquidate at the deadline")),
            ("auto_clear", _("Clear auto-liquidation")),
        ],
    )
    only = TextField(label=_("Only these stocks"), max_length=2000, required=False)
    at = DateTimeField(
        label=_("Auto-liquidation time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "aria-label": _("Auto-liquidation time")}, format="%Y-%m-%dT%H:%M"
        ),
    )
    # The batch's orders carry "batch-" and this key: together at most the 64 characters an order's request
    # key may have (liquidation.services.KEY).
    key = forms.RegexField(regex=r"^[A-Za-z0-9_\-]{8,58}$", required=False)

    def clean_only(self):
        text = self.cleaned_data["only"].replace(",", " ").split()
        # Any symbol the book may hold (a key: see console.text.key_problem), separated by commas or spaces.
        bad = [symbol for symbol in text if len(symbol) > 32 or key_problem(symbol) is not None]
        if bad:
            raise forms.ValidationError(_("Not a stock symbol: %(symbol)s"), params={"symbol": printable(bad[0][:32])})
        # As the book spells them, typed in any capitals; a symbol the book does not hold is named.
        typed = {fold(symbol): symbol for symbol in reversed(text)}  # the first spelling of each
        if len(typed) > MAX_ONLY:
            raise forms.ValidationError(
                _("At most %(count)d stocks; %(given)d were given."), params={"count": MAX_ONLY, "given": len(typed)}
            )
        stored = {
            fold(symbol): symbol
            for symbol in Instrument.objects.annotate(key=Upper("symbol"))
            .filter(key__in=list(typed))
            .values_list("symbol", flat=True)
        }
        wanted = list(dict.fromkeys(fold(symbol) for symbol in text))
        if unknown := [typed[key] for key in wanted if key not in stored]:
            raise forms.ValidationError(_("No such stock: %(symbols)s"), params={"symbols": ", ".join(unknown[:5])})
        return [stored[key] for key in wanted] or None

    def clean(self):
        data = super().clean()
        action, at = data.get("action"), data.get("at")
        if action is not None and action != "liquidate" and "only" in self.errors:
            del self.errors["only"]  # the stocks to sell matter only to a liquidation
        if action == "auto" and "at" not in self.errors:
            if at is None:
                self.add_error("at", _("Give the time to liquidate at."))
            else:
                now = timezone.now()
                if not now - timedelta(minutes=5) <= at <= now + AUTO_HORIZON:
                    self.add_error("at", _("The time must be from now to a year ahead."))
        if action == "liquidate" and not data.get("key"):
            self.add_error(None, OUT_OF_DATE)
        return data
