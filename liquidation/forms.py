from django import forms
from django.utils.translation import gettext_lazy as _

from risk.forms import TextField

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
    symbol = TextField(label=_("Stock"), max_length=32, required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("All statuses")), ("working", _("Working")), *OrderStatus.choices],
        required=False,
    )
    source = forms.ChoiceField(label=_("Source"), choices=[("", _("All sources")), *Source.choices], required=False)
    by = TextField(label=_("By"), max_length=150, required=False)
    day = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        choices=[(key, key) for key in ORDER_SORTS] + [(f"-{key}", key) for key in ORDER_SORTS], required=False
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)
