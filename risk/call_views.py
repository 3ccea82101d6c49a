"""The call pages: Risk Warning and Intraday Margin Warning lists, call details, History, the live
event stream, and the trader's actions on calls."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from book.models import AccountKind
from book.trading_calendar import HONG_KONG, session_close
from console import audit, panels, streams
from console import typed as typed_memory
from console.fields import form_errors, parse_id
from console.lists import COUNT_LIMIT, ListPage
from console.permissions import ConsoleMixin
from console.querysets import visible_desks
from console.redirects import back_to
from console.text import forbidden_character, read

from . import calls, live, selectors
from .calculations import round_money, round_ratio
from .charts import ratio_chart
from .forms import (
    DEFAULT_SORT,
    SORTS,
    CallFilterForm,
    DeadlineForm,
    EndCallForm,
    ExceptionBatchForm,
    ExceptionForm,
    HistoryFilterForm,
    RemarkForm,
)
from .models import AccountRisk, CallSnapshot, MarginCall
from .signals import call_ended
from .templatetags.figures import notice_status_label
from .views import book_context

logger = logging.getLogger(__name__)

REFUSED_NOT_FOUND = "refused: unknown or other desk's call"
LIST_KINDS = {
    AccountKind.MARGIN: {"url": "risk:warning", "title": gettext_lazy("Risk Warning")},
    AccountKind.INTRADAY: {"url": "risk:intraday", "title": gettext_lazy("Intraday Margin Warning")},
}


class CallListView(ListPage):
    """Open calls of one account kind: totals, filters, sort, pages, CSV, live updates."""

    kind = AccountKind.MARGIN
    template_name = "risk/call_list.html"
    partial = "call-list"
    sorts = SORTS
    default_sort = DEFAULT_SORT
    dropped_from_query = ("page", "changed", "format")

    @property
    def csv_name(self):
        return f"{self.kind}-calls"

    def get_form(self, request):
        return CallFilterForm(request.GET, desks=list(visible_desks(request.user).only("code", "name")))

    def select(self, request, values, now):
        return selectors.open_calls(request.user, self.kind, values, now)

    def row_values(self, rows, values, now, selection):
        changed = streams.marked(self.request.GET.get("changed", ""))
        for call in selectors.with_row_values(rows, now=now, long_before=selection.extra["long_before"]):
            call.changed = call.pk in changed

    def context(self, request, values, now, selection):
        return {
            "kind": self.kind,
            "title": LIST_KINDS[self.kind]["title"],
            "list_url": reverse(LIST_KINDS[self.kind]["url"]),
            "rendered_ms": int(now.timestamp() * 1000),
            # A live refresh draws the rows only, not the batch bar they would go in.
            "batch_panels": []
            if request.htmx
            else panels.render("call_list_batch", request, tab=selection.extra["tab"]),
            # A refused batch's rows and bar, ticked and typed again (by console.js) on the page drawn whole.
            "batch_kept": None if request.htmx else typed_memory.take_batch(request),
            "freshness": selectors.freshness(now),
        }

    def csv(self, ordered, now):
        self.days = selectors.days_called(ordered.values("account_id"), now=now)  # one query for the file
        return super().csv(ordered, now)

    def csv_header(self):
        return [
            _("Account"),
            _("Name"),
            _("Desk"),
            _("Status"),
            _("Type"),
            _("Trigger time"),
            _("Deadline"),
            _("Elapsed hours"),
            _("Net asset ratio"),
            _("Liquid net assets"),
            _("Equity"),
            _("Call amount"),
            _("Auto-liquidation time"),
            _("Last notice"),
            _("Last notice status"),
            _("Remark"),
            _("Days called in the last 30 days"),
            _("Auto-liquidation outcome"),
        ]

    def csv_row(self, call, now):
        return [
            call.account.account_no,
            call.account.name,
            call.account.desk.code if call.account.desk else "",
            call.get_status_display(),
            call.get_call_type_display(),
            timezone.localtime(call.triggered_at).isoformat(),
            timezone.localtime(call.deadline).isoformat(),
            calls.elapsed_hours(call.triggered_at, now),
            round_ratio(call.nav_ratio),
            round_money(call.liquid_nav),
            round_money(call.equity),
            round_money(call.call_amount),
            timezone.localtime(call.auto_liquidate_at).isoformat() if call.auto_liquidate_at else "",
            timezone.localtime(call.last_notice_at).isoformat() if call.last_notice_at else "",
            notice_status_label(call.last_notice_status) if call.last_notice_status else "",
            call.remark,
            self.days.get(call.account_id, 0),
            read(call.auto_liquidation_note),
        ]


class FreshnessView(ConsoleMixin, View):
    """The figures' freshness, polled by the open pages (it changes with no call changing). A call's
    page names its call (``?call=``): its head comes along, as the prices have moved its figures."""

    def get(self, request):
        now = timezone.now()
        context = {"freshness": selectors.freshness(now)}
        if "call" in request.GET:
            pk = parse_id(request.GET["call"])
            if pk is None:
                raise Http404(_("No such call."))
            call = _call_or_404(request, pk)
            context |= {**head_context(call, now), "freshness_call": call.pk, "head": True, "oob": True}
        return render(request, "risk/_freshness.html", context)


class IntradayListView(CallListView):
    kind = AccountKind.INTRADAY


async def call_events(request, kind):
    """Server-sent events: ``calls`` with the ids of this kind's calls that changed, as they change
    (:mod:`console.streams`)."""
    if kind not in LIST_KINDS:
        raise Http404
    return await streams.serve(request, live.CALLS, kind, lambda *args: _changed_for(*args))


def _changed_for(user, kind, since) -> set[int] | None:
    """The calls of this kind that this user sees and that changed since ``since``; None when none did."""
    return streams.changed_ids(MarginCall.objects.visible_to(user).filter(kind=kind), since)


def _call_or_404(request, pk: int) -> MarginCall:
    call = (
        MarginCall.objects.visible_to(request.user)
        .select_related("account", "account__desk", "exception_by")
        .filter(pk=pk)
        .first()
    )
    if call is None:
        raise Http404(_("No such call."))
    return call


class CallDetailView(ConsoleMixin, View):
    def get(self, request, pk):
        call = _call_or_404(request, pk)
        account = selectors.account_with_book(call.account.account_no)
        now = timezone.now()
        days = selectors.long_outstanding_days(account.kind)
        snapshots = list(call.snapshots.defer("book"))
        typed = take_typed(request, call)
        context = book_context(account)
        context.update(tiles_context(call, days, snapshots, now))
        context.update(
            {
                "kind_page": LIST_KINDS.get(account.kind),
                "remarks": list(call.remarks.select_related("author")),
                "deadline_changes": list(call.deadline_changes.select_related("changed_by")),
                "snapshots": snapshots,
                "chart": ratio_chart(snapshots, None if not call.is_open else context["figures"], now),
                "remark_form": RemarkForm(),
                "typed": typed,
                "deadline_form": DeadlineForm(
                    initial={
                        "deadline": typed.get("move_deadline", {}).get("deadline") or timezone.localtime(call.deadline)
                    }
                ),
                "compare": compare_snapshots(call, snapshots) if not call.is_open else None,
            }
        )
        context["panels"] = panels.render("call_detail", request, call=call, account=account)
        return render(request, "risk/call_detail.html", context)


def tiles_context(call, long_outstanding_days, snapshots, now) -> dict:
    """The call page's head: its type and status, and its tiles (trigger, deadline, elapsed hours, the
    call amount now or at the close)."""
    return {
        "call": call,
        "elapsed_hours": calls.elapsed_hours(call.triggered_at, call.closed_at or now),
        "overdue": call.is_open and call.deadline < now,
        "deadline_at_close": call.deadline == session_close(call.deadline.astimezone(HONG_KONG).date()),
        "long_outstanding": call.is_open and calls.is_long_outstanding(call.triggered_at, now, long_outstanding_days),
        # A closed call is read as it ended: its amount then, not the account's now.
        "at_close": None if call.is_open else next((s for s in reversed(snapshots) if s.kind == "close"), None),
    }


def head_context(call, now) -> dict:
    """The call page's head as a live refresh swaps it in (``risk/_call_tiles.html`` with ``oob``): after
    a fill (the orders part) or a price (the freshness poll)."""
    snapshots = [] if call.is_open else list(call.snapshots.filter(kind="close").defer("book"))
    context = tiles_context(call, selectors.long_outstanding_days(call.account.kind), snapshots, now)
    context["figures"] = AccountRisk.objects.filter(account_id=call.account_id).first()
    return context


class SnapshotView(ConsoleMixin, View):
    def get(self, request, pk, snapshot_pk):
        call = _call_or_404(request, pk)
        snapshot = call.snapshots.filter(pk=snapshot_pk).first()
        if snapshot is None:
            raise Http404(_("No such snapshot."))
        # In the call page's order (AccountRisk.FIGURE_FIELDS): Asset overview, then Margin; a figure
        # this version does not name comes just before the call amount.
        figures = dict(snapshot.book.get("figures", {}))
        figures.pop("call_type", None)
        amount = [("call_amount", figures.pop("call_amount"))] if "call_amount" in figures else []
        overview = [(name, figures.pop(name)) for name in OVERVIEW_FIGURES if name in figures]
        margin = [(name, figures.pop(name)) for name in AccountRisk.FIGURE_FIELDS if name in figures]
        context = {
            "call": call,
            "snapshot": snapshot,
            "book": snapshot.book,
            "overview": overview,
            "margin": margin + sorted(figures.items()) + amount,
        }
        return render(request, "risk/snapshot.html", context)


OVERVIEW_FIGURES = AccountRisk.FIGURE_FIELDS[: AccountRisk.FIGURE_FIELDS.index("nav_ratio") + 1]


COMPARED = ("equity", "liquid_nav", "nav_ratio", "mm", "loan", "margin_shortfall", "call_amount")


def compare_snapshots(call, snapshots):
    """The figures of the last snapshot before the close next to those at the close."""
    if call.is_open:  # a reopened call's earlier close is history, not its end
        return None
    after = [s for s in snapshots if s.kind == "close"]
    before = [s for s in snapshots if s.kind != "close" and after and s.taken_at <= after[-1].taken_at]
    if not before or not after:
        return None
    first, last = before[-1], after[-1]
    books = dict(CallSnapshot.objects.filter(pk__in=[first.pk, last.pk]).values_list("pk", "book"))
    first_book, last_book = books[first.pk], books[last.pk]
    return {
        "before": first,
        "after": last,
        "rows": [(name, first_book["figures"].get(name), last_book["figures"].get(name)) for name in COMPARED],
    }


class HistoryView(ListPage):
    """Closed calls: filters, sort, pages, CSV."""

    form_class = HistoryFilterForm
    template_name = "risk/history.html"
    sorts = SORTS
    default_sort = "-closed"
    tiebreak = "-pk"
    filled = ("closed",)  # every call in History is closed
    count_limit = COUNT_LIMIT
    csv_name = "call-history"

    def select(self, request, values, now):
        return selectors.closed_calls(request.user, values)

    def row_values(self, rows, values, now, selection):
        selectors.with_row_values(rows, now=now)

    def csv_header(self):
        return [
            _("Account"),
            _("Name"),
            _("Desk"),
            _("Kind"),
            _("Type at trigger"),
            _("Trigger time"),
            _("Deadline"),
            _("Closed at"),
            _("Close cause"),
            _("Elapsed hours"),
            _("Call amount at trigger"),
            _("Remark"),
        ]

    def csv_row(self, call, now):
        return [
            call.account.account_no,
            call.account.name,
            call.account.desk.code if call.account.desk else "",
            call.get_kind_display(),
            call.get_trigger_type_display(),
            timezone.localtime(call.triggered_at).isoformat(),
            timezone.localtime(call.deadline).isoformat(),
            timezone.localtime(call.closed_at).isoformat(),
            call.get_close_cause_display(),
            calls.elapsed_hours(call.triggered_at, call.closed_at),
            round_money(call.call_amount_at_trigger),
            call.remark,
        ]


class ExceptionBatchView(ConsoleMixin, View):
    """Mark or unmark the selected calls as exception."""

    http_method_names = ["post"]
    action = "exception"

    def targeted_calls(self, request) -> list[int]:
        return [pk for pk in map(parse_id, request.POST.getlist("calls")[:1000]) if pk is not None]

    def post(self, request):
        form = ExceptionBatchForm(request.POST)
        back = back_to(request, reverse("risk:warning"))
        if not form.is_valid():
            errors = form_errors(form)
            audit.record(request.user, self.action, detail={"errors": errors}, outcome="refused")
            messages.error(request, errors)
            typed_memory.keep_batch(request, back)
            return HttpResponseRedirect(back)
        wanted = form.cleaned_data["calls"]
        allowed = list(MarginCall.objects.visible_to(request.user).filter(pk__in=wanted).values_list("pk", flat=True))
        if len(allowed) != len(set(wanted)):
            self.audit_refusal(request, REFUSED_NOT_FOUND)
            raise Http404(_("No such call."))
        if form.cleaned_data["action"] == "mark":
            cleared: list = []
            changed = calls.mark_exception(
                allowed, reason=form.cleaned_data["reason"], user=request.user, auto_cleared=cleared
            )
            if changed:  # none changed: the warning below says why, alone
                messages.success(
                    request,
                    ngettext(
                        "%(count)d call marked as exception.", "%(count)d calls marked as exception.", len(changed)
                    )
                    % {"count": len(changed)},
                )
            say_auto_cleared(request, len(cleared))
        else:
            changed = calls.unmark_exception(allowed, user=request.user)
            if changed:
                messages.success(
                    request,
                    ngettext("%(count)d call back to active.", "%(count)d calls back to active.", len(changed))
                    % {"count": len(changed)},
                )
        skipped = len(allowed) - len(changed)
        if skipped:
            messages.warning(
                request,
                ngettext(
                    "%(count)d call was already so or has closed; left as it is.",
                    "%(count)d calls were already so or have closed; left as they are.",
                    skipped,
                )
                % {"count": skipped},
            )
        return HttpResponseRedirect(back)


class CallActionView(ConsoleMixin, View):
    """Base of the actions on one call: a form, a service call, an audit entry, back to the details."""

    http_method_names = ["post"]

    def targeted_calls(self, request) -> list[int]:
        return [self.kwargs["pk"]]

    def post(self, request, pk):
        try:
            call = _call_or_404(request, pk)
        except Http404:
            self.audit_refusal(request, REFUSED_NOT_FOUND)
            raise
        back = reverse("risk:call", args=[call.pk])
        form = self.form_class(request.POST)
        if not form.is_valid():
            errors = form_errors(form)
            audit.record(request.user, self.action, calls=[call.pk], detail={"errors": errors}, outcome="refused")
            messages.error(request, errors)
            keep_typed(request, call, self.action, form)
            return redirect(back)
        try:
            with transaction.atomic():  # refused: nothing it wrote stays, its audit entry included
                self.apply(call, form.cleaned_data, request.user)
        except calls.AlreadyDone as done:
            audit.record(request.user, self.action, calls=[call.pk], outcome="already done")
            messages.info(request, str(done))
        except calls.CallActionRefused as refusal:
            audit.record(request.user, self.action, calls=[call.pk], outcome=f"refused: {refusal}")
            messages.error(request, str(refusal))
            keep_typed(request, call, self.action, form)
        else:
            messages.success(request, self.done)
            self.after(request, call, form.cleaned_data)
        return redirect(back)

    def after(self, request, call, data) -> None:
        """What follows the action once it is committed (nothing, unless an action says otherwise)."""


def keep_typed(request, call, action: str, form) -> None:
    """Keep what a refused form of this call held, so the call's page shows it again to correct."""
    values = {}
    for name in form.fields:
        value = request.POST.get(name, "")[:2000]
        if forbidden_character(value, free_text=True, typed=True) is None:
            values[name] = value
    typed_memory.keep(request, f"call-typed:{call.pk}", {"action": action, "values": values})


def take_typed(request, call) -> dict:
    """{action: {field: value}} of the form refused just before on this call's page."""
    kept = typed_memory.take(request, f"call-typed:{call.pk}")
    return {kept["action"]: kept["values"]} if kept else {}


class RemarkView(CallActionView):
    action = "add_remark"
    form_class = RemarkForm
    done = gettext_lazy("Remark saved.")

    def apply(self, call, data, user):
        calls.add_remark(call, text=data["text"], user=user)


class DeadlineView(CallActionView):
    action = "move_deadline"
    form_class = DeadlineForm
    done = gettext_lazy("Deadline moved.")

    def apply(self, call, data, user):
        calls.move_deadline(call, deadline=data["deadline"], reason=data["reason"], user=user, shown=data.get("shown"))


def say_auto_cleared(request, count: int) -> None:
    if count:
        messages.info(
            request,
            ngettext(
                "An exception is not liquidated automatically: the auto-liquidation time of %(count)d call was "
                "cleared.",
                "An exception is not liquidated automatically: the auto-liquidation times of %(count)d calls were "
                "cleared.",
                count,
            )
            % {"count": count},
        )


class CallExceptionView(CallActionView):
    action = "exception"
    form_class = ExceptionForm
    done = gettext_lazy("Exception updated.")

    def apply(self, call, data, user):
        if not call.is_open:
            raise calls.CallActionRefused(_("The call has closed."))
        if data["action"] == "mark":
            cleared: list = []
            if not calls.mark_exception([call.pk], reason=data["reason"], user=user, auto_cleared=cleared):
                raise calls.CallActionRefused(_("The call is already an exception; its reason is unchanged."))
            say_auto_cleared(self.request, len(cleared))
        elif not calls.unmark_exception([call.pk], user=user):
            raise calls.CallActionRefused(_("The call is not an exception."))


class EndCallView(CallActionView):
    action = "end_call"
    form_class = EndCallForm
    done = gettext_lazy("Call ended.")

    def apply(self, call, data, user):
        if not calls.end_call(call.pk, reason=data["reason"], user=user):
            raise calls.CallActionRefused(_("The call has closed."))

    def after(self, request, call, data) -> None:
        """The call is ended: the apps above act on it as asked (the liquidation app cancels its working
        orders), each saying what it did; one that fails is logged and said, and the call stays ended."""
        if not data.get("cancel_orders"):
            return
        for receiver, outcome in call_ended.send_robust(sender=MarginCall, call_id=call.pk, user=request.user):
            if isinstance(outcome, Exception):
                logger.error("%s failed on the end of call %s", receiver, call.pk, exc_info=outcome)
                messages.error(
                    request, _("The call is ended, but its working orders could not be cancelled: cancel them below.")
                )
            elif outcome:
                messages.info(request, outcome)
