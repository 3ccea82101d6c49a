"""The notices in the console: the Notices panel on a call's details (what was sent, with each
delivery's status, and a message to send), the batch bar's message, the preview in each client's
language, and the Notices page (every delivery, resend a failed one)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views import View

from book.book_format import printable
from book.times import on_local_day
from console import typed as typed_memory
from console.fields import form_errors, parse_id
from console.lists import COUNT_LIMIT, ListPage, Selection
from console.permissions import ConsoleMixin, can, can_view
from console.redirects import back_to
from risk.models import MarginCall

from . import services
from .forms import NOTICE_SORTS, DeliveryFilterForm, PreviewForm, SendForm
from .models import Channel, Delivery, DeliveryStatus, Notice, NoticeKind

PREVIEW_CALLS = 20


def call_panel(request, *, call, account) -> str | None:
    """The call details' Notices panel: every notice of the call with its deliveries; send a message."""
    if not can_view(request.user):
        return None
    notices = list(
        Notice.objects.filter(call=call)
        .select_related("created_by")
        .prefetch_related("deliveries")
        .order_by("-created_at", "-pk")[:50]
    )
    context = {
        "call": call,
        "account": account,
        "notices": notices,
        "can_send": can(request.user, services.SEND_NOTICE) and call.is_open,
        "notice_form": SendForm(initial={"channels": [Channel.EMAIL, Channel.SMS], "kind": NoticeKind.MANUAL}),
        "key": secrets.token_urlsafe(16),
        "next": request.get_full_path(),
    }
    return render_to_string("notices/_call_panel.html", context, request=request)


def batch_panel(request, *, tab: str) -> str | None:
    """The Risk Warning batch bar's message: channel, template or free text, preview, send."""
    if not can(request.user, services.SEND_NOTICE):
        return None
    return render_to_string(
        "notices/_batch_bar.html",
        {"notice_form": SendForm(initial={"channels": [Channel.EMAIL, Channel.SMS]}), "key": secrets.token_urlsafe(16)},
        request=request,
    )


def _visible_calls(request, ids):
    return list(
        MarginCall.objects.visible_to(request.user)
        .filter(pk__in=ids)
        .select_related("account", "account__desk")
        .order_by("-call_amount", "pk")
    )


class SendView(ConsoleMixin, View):
    """Send a message or voice message to the selected calls' clients (from the details or a batch bar)."""

    http_method_names = ["post"]
    action = "send_notice"
    permission = services.SEND_NOTICE

    def targeted_calls(self, request) -> list[int]:
        return [pk for pk in map(parse_id, request.POST.getlist("calls")[:1000]) if pk is not None]

    def post(self, request):
        back = back_to(request, reverse("risk:warning"))
        form = SendForm(request.POST)
        if not form.is_valid():
            errors = form_errors(form)
            self.audit_refusal(request, f"refused: {errors}"[:200])
            messages.error(request, errors)
            typed_memory.keep_batch(request, back)
            return HttpResponseRedirect(back)
        ids = form.cleaned_data["calls"]
        calls = _visible_calls(request, ids)
        if len(calls) != len(set(ids)):
            self.audit_refusal(request, "refused: unknown or other desk's call")
            raise Http404(_("No such call."))
        open_calls = [call for call in calls if call.is_open]
        try:
            written = services.send(
                user=request.user,
                calls=open_calls,
                channels=form.cleaned_data["channels"],
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                key=form.cleaned_data["key"],
            )
        except services.Refused as refusal:
            messages.error(request, printable(str(refusal)))
            typed_memory.keep_batch(request, back)
            return HttpResponseRedirect(back)
        say_queued(request, asked=bool(open_calls), written=written)
        if closed := len(calls) - len(open_calls):
            messages.warning(
                request,
                ngettext("%(count)d call has closed: no notice.", "%(count)d calls have closed: no notice.", closed)
                % {"count": closed},
            )
        return HttpResponseRedirect(back)


def say_queued(request, *, asked: bool, written) -> None:
    """The message of a send: how many notices were queued, or that the same form (its key) was sent
    before and wrote its notices then."""
    if asked and not written:
        messages.info(request, _("This form was already sent; nothing more was queued."))
    else:
        count = len(written)
        messages.success(
            request, ngettext("%(count)d notice queued.", "%(count)d notices queued.", count) % {"count": count}
        )


class PreviewView(ConsoleMixin, View):
    """What each selected client would receive, in their own language (nothing is sent)."""

    http_method_names = ["get"]

    def get(self, request):
        form = PreviewForm(request.GET)
        context = {"rows": [], "error": "", "more": False}
        if not form.is_valid():
            context["error"] = form_errors(form)
        else:
            ids = form.cleaned_data["calls"]
            calls = _visible_calls(request, ids[:PREVIEW_CALLS])
            context["error"] = services.misfit(calls, form.cleaned_data["kind"], form.cleaned_data["text"])
            context["rows"] = services.preview(
                calls,
                kind=form.cleaned_data["kind"],
                channels=form.cleaned_data["channels"],
                text=form.cleaned_data["text"],
            )
            context["more"] = len(ids) > PREVIEW_CALLS
        return render(request, "notices/_preview.html", context)


class DeliveryListView(ListPage):
    """Every notice's deliveries on the user's desks: filters, status, resend the failed ones."""

    form_class = DeliveryFilterForm
    template_name = "notices/notice_list.html"
    partial = "notice-list"
    sorts = NOTICE_SORTS
    default_sort = "-queued"
    tiebreak = "-pk"
    count_limit = COUNT_LIMIT
    csv_name = "notices"

    def select(self, request, values, now):
        deliveries = Delivery.objects.visible_to(request.user).select_related(
            "notice", "notice__account", "notice__created_by"
        )
        if values.get("q"):
            deliveries = deliveries.filter(notice__account__account_no__istartswith=values["q"].strip())
        for name, lookup in (("kind", "notice__kind"), ("channel", "channel"), ("status", "status")):
            if values.get(name):
                deliveries = deliveries.filter(**{lookup: values[name]})
        if values.get("day"):
            deliveries = deliveries.filter(**on_local_day("queued_at", values["day"]))
        extra = {"can_send": can(request.user, services.SEND_NOTICE)}
        if extra["can_send"]:  # only a user who may send them again is told of failed deliveries
            limit = self.count_limit
            failed = deliveries.filter(status=DeliveryStatus.FAILED).order_by()[: limit + 1].count()
            extra |= {"failed_count": min(failed, limit), "failed_more": failed > limit}
        return Selection(rows=deliveries, extra=extra)

    def csv_header(self):
        return [
            _("Queued at"),
            _("Account"),
            pgettext("a margin call", "Call"),
            _("Kind"),
            _("Channel"),
            _("To"),
            _("Language"),
            _("Status"),
            _("Error"),
            _("Attempts"),
            _("Sent by"),
        ]

    def csv_row(self, delivery, now):
        notice = delivery.notice
        return [
            timezone.localtime(delivery.queued_at).isoformat(),
            notice.account.account_no,
            notice.call_id,
            notice.get_kind_display(),
            delivery.get_channel_display(),
            delivery.recipient,
            delivery.get_language_display(),
            delivery.get_status_display(),
            delivery.error,
            delivery.attempts,
            notice.created_by.get_username() if notice.created_by else "",
        ]


class ResendView(ConsoleMixin, View):
    """Queue the selected failed deliveries again."""

    http_method_names = ["post"]
    action = "send_notice"
    permission = services.SEND_NOTICE

    def targeted_calls(self, request) -> list[int]:
        ids = [pk for pk in map(parse_id, request.POST.getlist("deliveries")[:1000]) if pk is not None]
        calls = Delivery.objects.filter(pk__in=ids, notice__call__isnull=False).values_list(
            "notice__call_id", flat=True
        )
        return sorted(set(calls))

    def post(self, request):
        back = back_to(request, reverse("notices:list"))
        sent = [value for value in request.POST.getlist("deliveries")[:1000] if value.strip()]  # "": none picked
        ids = [pk for pk in map(parse_id, sent) if pk is not None]
        if not sent:
            messages.error(request, _("Select failed deliveries to send again."))
            return HttpResponseRedirect(back)
        deliveries = list(
            Delivery.objects.visible_to(request.user)
            .filter(pk__in=ids)
            .select_related("notice", "notice__account", "notice__call")
        )
        # a value that is no delivery's key names none: nothing is sent
        if len(ids) != len(sent) or len(deliveries) != len(set(ids)):
            self.audit_refusal(request, "refused: unknown or other desk's delivery")
            raise Http404(_("No such delivery."))
        outcomes = services.resend(user=request.user, deliveries=deliveries)
        if count := len(outcomes["queued"]):
            messages.success(
                request,
                ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
                % {"count": count},
            )
        for why, ids in outcomes.items():
            if why != "queued" and ids:
                messages.warning(request, not_again(why, len(ids)))
        return HttpResponseRedirect(back)


def not_again(why: str, count: int) -> str:
    """Why deliveries were not sent again (services.why_not_again), as the desk is told."""
    if why == "closed":
        text = ngettext(
            "%(count)d is about a call that has closed: not sent again.",
            "%(count)d are about calls that have closed: not sent again.",
            count,
        )
    elif why == "past_deadline":
        text = ngettext(
            "%(count)d is the system's notice about a call past its deadline: not sent again.",
            "%(count)d are the system's notices about calls past their deadline: not sent again.",
            count,
        )
    elif why == "settled":
        text = ngettext(
            "%(count)d asks for stock that is no longer to recover: not sent again.",
            "%(count)d ask for stock that is no longer to recover: not sent again.",
            count,
        )
    elif why == "retyped":
        text = ngettext(
            "%(count)d is the system's notice of a call whose type has changed since (a force call eased, a "
            "call that became or stopped being a debit call): not sent again.",
            "%(count)d are the system's notices of calls whose type has changed since (a force call eased, a "
            "call that became or stopped being a debit call): not sent again.",
            count,
        )
    elif why == "exception":
        text = ngettext(
            "%(count)d is the system's notice about a call marked exception: not sent again.",
            "%(count)d are the system's notices about calls marked exception: not sent again.",
            count,
        )
    else:
        text = ngettext(
            "%(count)d had not failed: left as it is.", "%(count)d had not failed: left as they are.", count
        )
    return text % {"count": count}
