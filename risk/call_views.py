"""The call pages: Risk Warning and Intraday Margin Warning lists, call details, History, the live
event stream, and the trader's actions on calls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from . import audit, calls, push, selectors
from .book_format import printable
from .calculations import round_money, round_ratio
from .charts import ratio_chart
from .exports import csv_response
from .forms import (
    DEFAULT_SORT,
    SORTS,
    CallFilterForm,
    DeadlineForm,
    ExceptionBatchForm,
    ExceptionForm,
    HistoryFilterForm,
    RemarkForm,
    parse_id,
)
from .models import AccountKind, CallSnapshot, CallStatus, MarginCall
from .permissions import ConsoleMixin, stream_desks
from .querysets import visible_desks
from .views import book_context

PAGE_SIZE = 50
REFUSED_NOT_FOUND = "refused: unknown or other desk's call"
LIST_KINDS = {
    AccountKind.MARGIN: {"url": "risk:warning", "title": _lazy("Risk Warning")},
    AccountKind.INTRADAY: {"url": "risk:intraday", "title": _lazy("Intraday Margin Warning")},
}


def _search(query: str) -> Q:
    if not query:
        return Q()
    return Q(account__account_no__istartswith=query) | Q(account__name__icontains=query)


def _ordering(sort: str):
    """``sort`` is a key of SORTS, "-" first for descending; rows with no value go last."""
    field = SORTS[sort.lstrip("-")]
    descending = sort.startswith("-") != field.startswith("-")
    expression = F(field.lstrip("-"))
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


def _page(ordered: QuerySet, count: int, wanted: int | None) -> tuple[list, int, int]:
    """One page of rows, the page number (clamped to the last page) and the number of pages."""
    pages = max(1, -(-count // PAGE_SIZE))
    page = min(wanted or 1, pages)
    return list(ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]), page, pages


def _query_without(request, *names):
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query


class CallListView(ConsoleMixin, View):
    """Open calls of one account kind: totals, filters, sort, pages, CSV, live updates."""

    kind = AccountKind.MARGIN

    def get(self, request):
        desks = list(visible_desks(request.user).only("code", "name"))
        form = CallFilterForm(request.GET, desks=desks)
        form.is_valid()  # a bad value is shown next to its filter and that filter is not applied
        values = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
        now = timezone.now()
        days = selectors.long_outstanding_days(self.kind)
        long_before = now - timedelta(days=days)
        tab = values.get("tab") or "active"
        shown = Q(status=CallStatus.EXCEPTION if tab == "exception" else CallStatus.OPEN)
        shown &= self.filters(values, now, long_before)
        open_calls = MarginCall.objects.visible_to(request.user).filter(closed_at__isnull=True, kind=self.kind)
        # Tab counts and totals in one query, so they always agree with each other.
        totals = open_calls.aggregate(
            active=Count("pk", filter=Q(status=CallStatus.OPEN)),
            exception=Count("pk", filter=Q(status=CallStatus.EXCEPTION)),
            count=Count("pk", filter=shown),
            amount=Sum("call_amount", filter=shown),
            long_count=Count("pk", filter=shown & Q(triggered_at__lt=long_before)),
            long_total=Sum("call_amount", filter=shown & Q(triggered_at__lt=long_before)),
        )
        sort = values.get("sort") or DEFAULT_SORT
        ordered = open_calls.filter(shown).select_related("account", "account__desk").order_by(_ordering(sort), "pk")
        if request.GET.get("format") == "csv":
            return self.csv(ordered, now)
        rows, page, pages = _page(ordered, totals["count"], values.get("page"))
        changed = _ids(request.GET.get("changed", ""))
        for call in selectors.with_row_values(rows, now=now, long_before=long_before):
            call.changed = call.pk in changed
        query = _query_without(request, "page", "changed", "format")
        context = {
            "kind": self.kind,
            "title": LIST_KINDS[self.kind]["title"],
            "list_url": reverse(LIST_KINDS[self.kind]["url"]),
            "form": form,
            "tab": tab,
            "totals": totals,
            "long_days": days,
            "rows": rows,
            "page": page,
            "pages": pages,
            "sort": sort,
            "query": query,
            "querystring": query.urlencode(),
            "rendered_ms": int(now.timestamp() * 1000),
        }
        template = "risk/call_list.html#call-list" if request.htmx else "risk/call_list.html"
        return render(request, template, context)

    @staticmethod
    def filters(values, now, long_before) -> Q:
        condition = _search(values.get("q", "").strip())
        if values.get("type"):
            condition &= Q(call_type=values["type"])
        if values.get("desk"):
            condition &= Q(account__desk__code=values["desk"])
        if values.get("overdue"):
            condition &= Q(deadline__lt=now)
        if values.get("long"):
            condition &= Q(triggered_at__lt=long_before)
        if values.get("ratio_min") is not None:
            condition &= Q(nav_ratio__gte=values["ratio_min"] / 100)
        if values.get("ratio_max") is not None:
            condition &= Q(nav_ratio__lte=values["ratio_max"] / 100)
        return condition

    def csv(self, ordered, now):
        header = [
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
            _("Remark"),
        ]
        rows = (
            [
                call.account.account_no,
                call.account.name,
                call.account.desk.code if call.account.desk else "",
                call.status,
                call.call_type,
                timezone.localtime(call.triggered_at).isoformat(),
                timezone.localtime(call.deadline).isoformat(),
                calls.elapsed_hours(call.triggered_at, now),
                round_ratio(call.nav_ratio),
                round_money(call.liquid_nav),
                round_money(call.equity),
                round_money(call.call_amount),
                timezone.localtime(call.auto_liquidate_at).isoformat() if call.auto_liquidate_at else "",
                call.remark,
            ]
            for call in ordered.iterator(chunk_size=2000)
        )
        return csv_response(f"{self.kind}-calls-{timezone.localtime(now):%Y%m%d-%H%M}.csv", header, rows)


class IntradayListView(CallListView):
    kind = AccountKind.INTRADAY


def _ids(text: str) -> set[int]:
    """The ``changed`` ids the page sends back: what is not an id is ignored (it only marks rows)."""
    return {pk for pk in (parse_id(part.strip()) for part in text.split(",")) if pk is not None}


STREAM_LIFETIME_SECONDS = 600  # then the browser reconnects by itself, and the reconnect re-checks permissions
STREAM_KEEPALIVE_SECONDS = 15
STREAM_EVENT_INTERVAL_SECONDS = 0.25
STREAM_CATCH_UP = timedelta(minutes=10)  # a page older than this refetches its rows whole


async def call_events(request, kind):
    """Server-sent events: ``calls`` with the ids of this kind's calls that changed, as they change.
    The page then fetches its rows again and marks the changed ones. The stream is the process hub's
    (:mod:`risk.push`): it waits without a thread or a database connection, and a closed tab ends it."""
    if kind not in LIST_KINDS:
        raise Http404
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    desks = await sync_to_async(stream_desks)(user)
    if desks is False:
        raise PermissionDenied
    hub = push.hub()
    if not hub.has_room(user.pk):
        refused = HttpResponse(
            _("Too many open pages are following live updates; close some and reload this one."),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        add_never_cache_headers(refused)
        return refused
    # Done with the database until the stream runs: give the connection back now, not at its end.
    await sync_to_async(close_old_connections)()
    content = _EventStream(hub, user, kind, desks, _stream_since(request))
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["X-Accel-Buffering"] = "no"
    add_never_cache_headers(response)
    return response


class _EventStream:
    """A stream's response content. It joins the hub only once the response is being sent (a client
    gone before that leaves nothing behind), and Django calls ``close()`` when the response ends,
    however it ended, so the stream leaves the hub at once."""

    def __init__(self, hub, user, kind, desks, since):
        self.hub, self.user, self.kind, self.desks, self.since = hub, user, kind, desks, since
        self.stream = None
        self.loop = asyncio.get_running_loop()

    def __aiter__(self):
        return self.events()

    def close(self):
        if self.stream is None or self.loop.is_closed():
            return
        # Django may call this from its sync thread; the hub belongs to the event loop's thread.
        self.loop.call_soon_threadsafe(self.hub.close, self.stream)

    async def events(self):
        try:
            self.stream = self.hub.open(self.user.pk, self.kind, self.desks)
        except push.StreamLimit:  # another tab of this user took the last place meanwhile
            yield "retry: 60000\n\n"
            yield "event: refused\ndata: {}\n\n"
            return
        started = time.monotonic()
        try:
            yield "retry: 2000\n\n"
            if self.since is not None:
                # Joined and listening first, then the catch-up: a change is in one or the other.
                await self.hub.wait_ready(timeout=5.0)
                catch_up = await sync_to_async(_changed_for)(self.user, self.kind, self.since)
                await sync_to_async(close_old_connections)()
                if catch_up is not None:
                    yield _event(catch_up)
            while time.monotonic() - started < STREAM_LIFETIME_SECONDS:
                ids = await self.stream.changed(timeout=STREAM_KEEPALIVE_SECONDS)
                if not ids:
                    yield ": keepalive\n\n"
                    continue
                yield _event(ids)
                # Changes in the next moment go out together: a page refetches at most this often.
                await asyncio.sleep(STREAM_EVENT_INTERVAL_SECONDS)
        finally:
            self.hub.close(self.stream)


def _event(ids) -> str:
    return f"id: {int(time.time() * 1000)}\nevent: calls\ndata: {json.dumps({'calls': sorted(ids)})}\n\n"


# A ``since`` the stream cannot use: the page refetches its rows whole, without marks.
REFETCH_ALL = datetime(1970, 1, 1, tzinfo=UTC)


def _stream_since(request) -> datetime | None:
    """When the page last saw its rows: the last event's id on a reconnect, else the page's own time
    (epoch milliseconds); None when it gave neither."""
    text = request.headers.get("Last-Event-ID") or request.GET.get("since", "")
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,13}", text):  # epoch milliseconds up to the year 2286
        return REFETCH_ALL
    moment = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    return REFETCH_ALL if moment > timezone.now() + timedelta(minutes=1) else moment


def _changed_for(user, kind, since) -> set[int] | None:
    """The calls of this kind that this user sees and that changed since ``since``; None when none did.
    An empty set (the page refetches its rows without marks) when ``since`` is too long ago."""
    if since < timezone.now() - STREAM_CATCH_UP:
        return set()
    changed = MarginCall.objects.visible_to(user).filter(kind=kind, updated_at__gt=since - push.OVERLAP)
    return set(changed.values_list("pk", flat=True)[:1000]) or None


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
        context = book_context(account)
        context.update(
            {
                "call": call,
                "kind_page": LIST_KINDS.get(account.kind),
                "elapsed_hours": calls.elapsed_hours(call.triggered_at, call.closed_at or now),
                "overdue": call.is_open and call.deadline < now,
                "long_outstanding": call.is_open and calls.is_long_outstanding(call.triggered_at, now, days),
                "remarks": list(call.remarks.select_related("author")),
                "deadline_changes": list(call.deadline_changes.select_related("changed_by")),
                "snapshots": snapshots,
                "chart": ratio_chart(snapshots, None if not call.is_open else context["figures"], now),
                "remark_form": RemarkForm(),
                "deadline_form": DeadlineForm(initial={"deadline": timezone.localtime(call.deadline)}),
                "compare": compare_snapshots(call, snapshots) if not call.is_open else None,
            }
        )
        return render(request, "risk/call_detail.html", context)


class SnapshotView(ConsoleMixin, View):
    def get(self, request, pk, snapshot_pk):
        call = _call_or_404(request, pk)
        snapshot = call.snapshots.filter(pk=snapshot_pk).first()
        if snapshot is None:
            raise Http404(_("No such snapshot."))
        return render(request, "risk/snapshot.html", {"call": call, "snapshot": snapshot, "book": snapshot.book})


COMPARED = ("equity", "liquid_nav", "nav_ratio", "mm", "loan", "margin_shortfall", "call_amount")


def compare_snapshots(call, snapshots):
    """The figures of the last snapshot before the close next to those at the close."""
    before = [s for s in snapshots if s.kind != "close"]
    after = [s for s in snapshots if s.kind == "close"]
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


class HistoryView(ConsoleMixin, View):
    def get(self, request):
        form = HistoryFilterForm(request.GET)
        form.is_valid()
        values = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
        shown = _search((values.get("q") or "").strip())
        for name, lookup in (
            ("kind", "kind"),
            ("cause", "close_cause"),
            ("type", "trigger_type"),
            ("closed_from", "closed_at__date__gte"),
            ("closed_to", "closed_at__date__lte"),
        ):
            if values.get(name):
                shown &= Q(**{lookup: values[name]})
        closed = MarginCall.objects.visible_to(request.user).filter(shown, closed_at__isnull=False)
        sort = values.get("sort") or "-closed"
        count = closed.count()
        ordered = closed.select_related("account", "account__desk").order_by(_ordering(sort), "-pk")
        rows, page, pages = _page(ordered, count, values.get("page"))
        selectors.with_row_values(rows, now=timezone.now())
        query = _query_without(request, "page")
        context = {
            "form": form,
            "rows": rows,
            "count": count,
            "page": page,
            "pages": pages,
            "sort": sort,
            "query": query,
            "querystring": query.urlencode(),
        }
        return render(request, "risk/history.html", context)


def _form_errors(form) -> str:
    # Printable: an error may quote the value sent, and the audit log (JSON) cannot hold a NUL.
    return printable("; ".join(str(error) for errors in form.errors.values() for error in errors))


def _back(request, default: str) -> str:
    """Where to go after an action: the page's own path when it sent a safe one, else ``default``."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


class ExceptionBatchView(ConsoleMixin, View):
    """Mark or unmark the selected calls as exception."""

    http_method_names = ["post"]
    action = "exception"

    def targeted_calls(self, request) -> list[int]:
        return [pk for pk in map(parse_id, request.POST.getlist("calls")[:1000]) if pk is not None]

    def post(self, request):
        form = ExceptionBatchForm(request.POST)
        back = _back(request, reverse("risk:warning"))
        if not form.is_valid():
            errors = _form_errors(form)
            audit.record(request.user, self.action, detail={"errors": errors}, outcome="refused")
            messages.error(request, errors)
            return HttpResponseRedirect(back)
        wanted = form.cleaned_data["calls"]
        allowed = list(MarginCall.objects.visible_to(request.user).filter(pk__in=wanted).values_list("pk", flat=True))
        if len(allowed) != len(set(wanted)):
            self.audit_refusal(request, REFUSED_NOT_FOUND)
            raise Http404(_("No such call."))
        if form.cleaned_data["action"] == "mark":
            changed = calls.mark_exception(allowed, reason=form.cleaned_data["reason"], user=request.user)
            messages.success(request, _("%(count)d call(s) marked as exception.") % {"count": len(changed)})
        else:
            changed = calls.unmark_exception(allowed, user=request.user)
            messages.success(request, _("%(count)d call(s) back to active.") % {"count": len(changed)})
        skipped = len(allowed) - len(changed)
        if skipped:
            messages.warning(
                request, _("%(count)d call(s) were already so or have closed; left as they are.") % {"count": skipped}
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
            errors = _form_errors(form)
            audit.record(request.user, self.action, calls=[call.pk], detail={"errors": errors}, outcome="refused")
            messages.error(request, errors)
            return redirect(back)
        try:
            self.apply(call, form.cleaned_data, request.user)
        except calls.CallActionRefused as refusal:
            audit.record(request.user, self.action, calls=[call.pk], outcome=f"refused: {refusal}")
            messages.error(request, str(refusal))
        else:
            messages.success(request, self.done)
        return redirect(back)


class RemarkView(CallActionView):
    action = "add_remark"
    form_class = RemarkForm
    done = _lazy("Remark saved.")

    def apply(self, call, data, user):
        calls.add_remark(call, text=data["text"], user=user)


class DeadlineView(CallActionView):
    action = "move_deadline"
    form_class = DeadlineForm
    done = _lazy("Deadline moved.")

    def apply(self, call, data, user):
        calls.move_deadline(call, deadline=data["deadline"], reason=data["reason"], user=user)


class CallExceptionView(CallActionView):
    action = "exception"
    form_class = ExceptionForm
    done = _lazy("Exception updated.")

    def apply(self, call, data, user):
        if not call.is_open:
            raise calls.CallActionRefused(_("The call has closed."))
        if data["action"] == "mark":
            calls.mark_exception([call.pk], reason=data["reason"], user=user)
        else:
            calls.unmark_exception([call.pk], user=user)
