"""Forms of the call pages. Every value a user sends is checked here; a bad one is named, never a 500."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import CallType, CloseCause

SORTS = {
    "account": "account__account_no",
    "name": "account__name",
    "type": "call_type",
    "triggered": "triggered_at",
    "deadline": "deadline",
    "elapsed": "-triggered_at",
    "ratio": "nav_ratio",
    "liquid_nav": "liquid_nav",
    "equity": "equity",
    "amount": "call_amount",
    "auto": "auto_liquidate_at",
    "closed": "closed_at",
    "cause": "close_cause",
}
DEFAULT_SORT = "-amount"


def is_id(value: str) -> bool:
    """An id as a form sends it: ASCII digits only ("²" and "١" are digits to ``str.isdigit``)."""
    return value.isascii() and value.isdigit()


LIST_SORTS = (
    "account",
    "name",
    "type",
    "triggered",
    "deadline",
    "elapsed",
    "ratio",
    "liquid_nav",
    "equity",
    "amount",
    "auto",
)
HISTORY_SORTS = ("closed", "triggered", "account", "type", "cause")


def _sort_choices(keys):
    return [(f"{sign}{key}", f"{sign}{key}") for key in keys for sign in ("", "-")]


class CallFilterForm(forms.Form):
    """Filters of the Risk Warning and Intraday pages. Ratios are entered in percent."""

    tab = forms.ChoiceField(choices=[("active", _("Active")), ("exception", _("Exception"))], required=False)
    type = forms.ChoiceField(label=_("Type"), choices=[("", _("All types")), *CallType.choices], required=False)
    desk = forms.ChoiceField(label=_("Desk"), choices=[("", _("All desks"))], required=False)
    overdue = forms.BooleanField(label=_("Deadline passed"), required=False)
    long = forms.BooleanField(label=_("Long outstanding"), required=False)
    ratio_min = forms.DecimalField(label=_("Ratio from (%)"), required=False, max_digits=9, decimal_places=2)
    ratio_max = forms.DecimalField(label=_("Ratio to (%)"), required=False, max_digits=9, decimal_places=2)
    q = forms.CharField(label=_("Account or name"), required=False, max_length=100)
    sort = forms.ChoiceField(choices=_sort_choices(LIST_SORTS), required=False)
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(self, data, *, desks):
        super().__init__(data)
        self.fields["desk"].choices = [("", _("All desks")), *[(desk.code, str(desk)) for desk in desks]]

    def clean(self):
        data = super().clean()
        low, high = data.get("ratio_min"), data.get("ratio_max")
        if low is not None and high is not None and low > high:
            self.add_error("ratio_max", _("The upper ratio must not be below the lower one."))
        return data


DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Page"),
        choices=[("", _("All")), ("margin", _("Risk Warning")), ("intraday", _("Intraday Margin Warning"))],
        required=False,
    )
    cause = forms.ChoiceField(label=_("Cause"), choices=[("", _("All causes")), *CloseCause.choices], required=False)
    type = forms.ChoiceField(label=_("Type"), choices=[("", _("All types")), *CallType.choices], required=False)
    closed_from = forms.DateField(
        label=_("Closed from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    closed_to = forms.DateField(label=_("Closed to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Account or name"), required=False, max_length=100)
    sort = forms.ChoiceField(choices=_sort_choices(HISTORY_SORTS), required=False)
    page = forms.IntegerField(min_value=1, required=False)


class ExceptionForm(forms.Form):
    action = forms.ChoiceField(choices=[("mark", _("Mark exception")), ("unmark", _("Unmark exception"))])
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000)

    def clean(self):
        data = super().clean()
        if data.get("action") == "mark" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A reason is required to mark an exception."))
        return data


class ExceptionBatchForm(ExceptionForm):
    """The selected calls' ids; which of them the user may touch is the view's to decide."""

    calls = forms.CharField(required=False)

    def clean_calls(self):
        values = self.data.getlist("calls")
        if not values:
            raise forms.ValidationError(_("Select at least one call."))
        bad = [value for value in values if not is_id(value)]
        if bad:
            raise forms.ValidationError(_("Not a call: %(value)s."), params={"value": bad[0][:20]})
        return [int(value) for value in values]


class RemarkForm(forms.Form):
    text = forms.CharField(label=_("Remark"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DeadlineForm(forms.Form):
    deadline = forms.DateTimeField(
        label=_("New deadline"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if timezone.is_naive(deadline):
            deadline = timezone.make_aware(deadline)
        return deadline
