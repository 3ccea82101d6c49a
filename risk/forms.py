"""Forms of the call pages. Every value a user sends is checked here; a bad one is named, never a 500."""

from __future__ import annotations

from django import forms
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from book.book_format import has_utc_and_local_time, printable
from console.fields import (
    OUT_OF_DATE,
    BoxField,
    DateField,
    DateTimeField,
    DecimalField,
    IntegerField,
    StoredTextField,
    parse_id,
)

from .models import CallType, CloseCause

MAX_BATCH_CALLS = 1000
MAX_PAGE = 1_000_000  # a page past the last shows the last; past this it is not a page number


class TextField(StoredTextField):
    """One line of text (a search, a name), checked by the same rule as the book file's."""


class FreeTextField(TextField):
    """A remark or a reason: tabs and line breaks are fine too."""

    free_text = True


# Call types by how urgent they are for the desk, not by their stored codes: force calls first, then
# margin calls, excess financing, and debit (which no liquidation ends).
TYPE_ORDER = Case(
    *(
        When(call_type=call_type, then=Value(rank))
        for rank, call_type in enumerate(
            (CallType.FORCE_CALL, CallType.MARGIN_CALL, CallType.EXCESS_FINANCING, CallType.DEBIT)
        )
    ),
    default=Value(len(CallType)),
)

SORTS = {
    "account": "account__account_no",
    "name": "account__name",
    "type": TYPE_ORDER,
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
    overdue = BoxField(label=_("Deadline passed"))
    long = BoxField(label=_("Long outstanding"))
    ratio_min = DecimalField(label=_("Ratio from (%)"), required=False, max_digits=9, decimal_places=2)
    ratio_max = DecimalField(label=_("Ratio to (%)"), required=False, max_digits=9, decimal_places=2)
    q = TextField(label=_("Account or name"), required=False, max_length=100)
    sort = forms.ChoiceField(label=_("Sort"), choices=_sort_choices(LIST_SORTS), required=False)
    page = IntegerField(label=_("Page"), min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, data, *, desks):
        super().__init__(data)
        self.fields["desk"].choices = [("", _("All desks")), *[(desk.code, str(desk)) for desk in desks]]

    def clean(self):
        data = super().clean()
        bad = [name for name in ("ratio_min", "ratio_max") if name in self.errors]
        if bad:  # one bound alone is not the range the trader meant either
            data.pop("ratio_min", None)
            data.pop("ratio_max", None)
            self.add_error(bad[0], _("The list is not filtered by ratio."))
            return data
        drop_reversed(
            self,
            "ratio_min",
            "ratio_max",
            _("The upper ratio must not be below the lower one; the list is not filtered by ratio."),
        )
        return data


def drop_reversed(form: forms.Form, low: str, high: str, message) -> None:
    """A range whose high end is below its low one: said on the high end, and neither end applied (a list
    cut at one end of a range the trader did not mean reads as a result)."""
    start, end = form.cleaned_data.get(low), form.cleaned_data.get(high)
    if start is not None and end is not None and start > end:
        form.add_error(high, message)
        form.cleaned_data.pop(low, None)


DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Page"),
        choices=[("", _("All")), ("margin", _("Risk Warning")), ("intraday", _("Intraday Margin Warning"))],
        required=False,
    )
    cause = forms.ChoiceField(label=_("Cause"), choices=[("", _("All causes")), *CloseCause.choices], required=False)
    type = forms.ChoiceField(label=_("Type"), choices=[("", _("All types")), *CallType.choices], required=False)
    closed_from = DateField(label=_("Closed from"), required=False, widget=DATE_INPUT)
    closed_to = DateField(label=_("Closed to"), required=False, widget=DATE_INPUT)
    q = TextField(label=_("Account or name"), required=False, max_length=100)
    account = TextField(label=_("Account"), required=False, max_length=32, widget=forms.HiddenInput)
    sort = forms.ChoiceField(label=_("Sort"), choices=_sort_choices(HISTORY_SORTS), required=False)
    page = IntegerField(label=_("Page"), min_value=1, max_value=MAX_PAGE, required=False)

    def clean(self):
        data = super().clean()
        drop_reversed(
            self,
            "closed_from",
            "closed_to",
            _("The last day must not be before the first; the list is not filtered by day."),
        )
        return data


class AccountSearchForm(forms.Form):
    q = TextField(label=_("Account number or name"), required=False, max_length=100)


class ExceptionForm(forms.Form):
    action = forms.ChoiceField(
        label=pgettext_lazy("form field", "Action"),
        choices=[("mark", _("Mark exception")), ("unmark", _("Unmark exception"))],
    )
    reason = FreeTextField(label=_("Reason"), required=False, max_length=1000)

    def clean(self):
        data = super().clean()
        if data.get("action") == "mark" and "reason" not in self.errors and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A reason is required to mark an exception."))
        return data


class EndCallForm(forms.Form):
    reason = FreeTextField(label=_("Reason"), max_length=1000)
    cancel_orders = BoxField(label=_("Cancel its working orders too"))

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("A reason is required to end a call."))
        return reason


class CallIdsField(forms.Field):
    """The ids of the selected calls, one form value each."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Select at least one call."),
        "invalid": _("Not a call: “%(value)s”."),
        "too_many": _("Select at most %(count)d calls at a time."),
    }

    def to_python(self, value):
        values = [value] if isinstance(value, str) else list(value or ())
        if len(values) > MAX_BATCH_CALLS:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"count": MAX_BATCH_CALLS}
            )
        ids = [parse_id(text) if isinstance(text, str) else None for text in values]
        if None in ids:
            bad = str(values[ids.index(None)])[:20]
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": printable(bad)}
            )
        return ids


class ExceptionBatchForm(ExceptionForm):
    """The selected calls' ids; which of them the user may touch is the view's to decide."""

    calls = CallIdsField()


class RemarkForm(forms.Form):
    text = FreeTextField(label=_("Remark"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DeadlineForm(forms.Form):
    deadline = DateTimeField(
        label=_("New deadline"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = FreeTextField(label=_("Reason"), max_length=1000)
    # The deadline the page showed (Unix seconds): one another trader moved since is not moved unseen.
    # A form without it (made by hand) would move it unseen: it is out of date, as a tampered one is.
    shown = IntegerField(
        label=None,  # never seen: its errors say only that the page is out of date
        min_value=0,
        max_value=2**40,
        widget=forms.HiddenInput,
        error_messages={
            "required": OUT_OF_DATE,
            "invalid": OUT_OF_DATE,
            "min_value": OUT_OF_DATE,
            "max_value": OUT_OF_DATE,
        },
    )

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if timezone.is_naive(deadline):
            deadline = timezone.make_aware(deadline)
        # An ISO time with any offset is read too: it must have a UTC time to store and one to show.
        if not has_utc_and_local_time(deadline):
            raise forms.ValidationError(self.fields["deadline"].error_messages["invalid"], code="invalid")
        return timezone.localtime(deadline)  # Hong Kong time, whatever offset it came with
