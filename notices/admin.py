from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.admin import ModelAdmin, TabularInline

from . import sms
from .models import Delivery, Notice, NoticeGateway, NoticeTemplate
from .placeholders import PLACEHOLDERS, TemplateError, check, fill, known_for

SAMPLE = {
    "account": "M100001",
    "name": "Chan Tai Man",
    "desk": "Desk 1",
    "call_amount": "135,400.00",
    "deadline": "2026-12-29 16:00",
    "type": "Margin call",
    "ratio": "78.20%",
    "triggered": "2026-12-23 10:00",
    "equity": "864,600.00",
    "broker": "Risk Desk",
    "stock": "700.HK",
    "quantity": "2,000",
    "due": "2026-12-24 16:00",
}


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(ModelAdmin):
    list_display = ["kind", "channel", "language", "subject", "updated_at"]
    list_filter = ["kind", "channel", "language"]
    readonly_fields = ["placeholders", "preview"]
    fields = ["kind", "channel", "language", "subject", "body", "placeholders", "preview"]

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj):
        known = known_for(obj.kind if obj is not None and obj.kind else None)  # what this kind's notice fills
        items = format_html_join("", "<li><code>{{{}}}</code>: {}</li>", ((name, PLACEHOLDERS[name]) for name in known))
        return format_html("<ul>{}</ul>", items)

    @admin.display(description=_("preview (sample values; save to see your changes)"))
    def preview(self, obj):
        if obj is None or not obj.pk:
            return "—"
        try:
            check(obj.subject, obj.kind)
            check(obj.body, obj.kind)
        except TemplateError as error:
            return str(error)
        html = obj.channel == "email"
        with translation.override(obj.language):  # the call type as the client reads it
            sample = {**SAMPLE, "type": gettext("Margin call")}
        sample["broker"] = settings.NOTICE_BROKER_NAMES.get(obj.language, settings.NOTICE_BROKER_NAME)
        subject = fill(obj.subject, sample, html=True)
        body = fill(obj.body, sample, html=True) if html else fill(obj.body, sample)
        if html:
            return format_html('<p><b>{}</b></p><pre style="white-space:pre-wrap">{}</pre>', subject, body)
        shown = format_html('<pre style="white-space:pre-wrap">{}</pre>', body)
        if obj.channel == "sms":  # a text past one message is sent, and paid for, as several
            shown += format_html("<p>{}</p>", sms.describe(body))
        return shown


class NoticeGatewayForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "token" in self.fields:  # a help text is HTML: "<token>" would not show
            self.fields["token"].help_text = _("Sent in each request's Authorization header, after “Bearer ”.")

    def clean_url(self):
        url = self.cleaned_data["url"]
        if "://" not in str(self.data.get(self.add_prefix("url"), "")):
            # Not guessed: an address read as plain http:// would send the gateway's token unencrypted.
            raise forms.ValidationError(_("Start the address with https:// (or http://): it is not guessed."))
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise forms.ValidationError(_("Enter an http:// or https:// address: the gateway is posted to."))
        if parts.username or parts.password:
            raise forms.ValidationError(_("Put no user or password in the address: give the gateway's token below."))
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:  # 0, or beyond 65535: no delivery could reach it
            raise forms.ValidationError(_("The port must be a number from 1 to 65535."))
        return url

    def clean_token(self):
        token = self.cleaned_data["token"]
        if token and not (token.isascii() and token.isprintable()):
            # An HTTP header carries ASCII: any other character could not be sent, and no delivery would go.
            raise forms.ValidationError(_("A token is printable ASCII (letters, digits, punctuation) only."))
        return token


@admin.register(NoticeGateway)
class NoticeGatewayAdmin(ModelAdmin):
    form = NoticeGatewayForm
    list_display = ["channel", "url", "timeout_seconds", "active"]


class DeliveryInline(TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel", "recipient", "language", "status", "error", "attempts", "sent_at", "delivered_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(ModelAdmin):
    list_display = ["created_at", "account", "kind", "day", "created_by"]
    list_filter = ["kind"]
    search_fields = ["account__account_no"]
    list_select_related = ["account", "created_by"]
    inlines = [DeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
