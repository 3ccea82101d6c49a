from django import forms
from django.utils.translation import gettext_lazy as _

from console.fields import DateField, IntegerField, TickedField
from console.lists import sort_choices
from risk.forms import MAX_PAGE, CallIdsField, FreeTextField, TextField

from .models import CALL_NOTICE_KINDS, Channel, DeliveryStatus, NoticeKind
from .placeholders import TemplateError, check
from .services import MAX_FREE_TEXT


class SendForm(forms.Form):
    """A message or voice message to the selected calls' clients: a template, or a free text."""

    calls = CallIdsField()
    channels = TickedField(label=_("Channels"), choices=Channel.choices, widget=forms.CheckboxSelectMultiple)
    kind = forms.ChoiceField(
        label=_("Template"),
        choices=[(kind.value, kind.label) for kind in CALL_NOTICE_KINDS],
        initial=NoticeKind.MANUAL,
    )
    text = FreeTextField(
        label=_("Or your own text"),
        required=False,
        max_length=MAX_FREE_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Placeholders such as {account}, {name}, {call_amount} and {deadline} are filled in."),
    )
    key = forms.RegexField(regex=r"^[A-Za-z0-9_\-]{8,64}$")

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        try:
            check(text, NoticeKind.MANUAL)
        except TemplateError as error:
            raise forms.ValidationError(str(error)) from None
        return text


class PreviewForm(SendForm):
    key = None


NOTICE_SORTS = {"queued": "queued_at", "account": "notice__account__account_no", "status": "status"}


class DeliveryFilterForm(forms.Form):
    q = TextField(label=_("Account"), max_length=32, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("All kinds")), *NoticeKind.choices], required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All statuses")), *DeliveryStatus.choices], required=False
    )
    day = DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        label=_("Sort"),
        choices=sort_choices(NOTICE_SORTS),
        required=False,
    )
    page = IntegerField(label=_("Page"), min_value=1, max_value=MAX_PAGE, required=False)
