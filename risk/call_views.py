"""The call pages: Risk Warning and Intraday Margin Warning lists, call details, History, the live
event stream, and the trader's actions on calls."""

from __future__ import annotations

import csv
import json
import time
from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from . import audit, calls, push, selectors
from .book_format import printable
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
from .permissions import ConsoleMixin, visible_calls, visible_desks
from .templatetags.console import percent
from .views import book_context

PAGE_SIZE = 50
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
        open_calls = visible_calls(request.user).filter(closed_at__isnull=True, kind=self.kind)
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
        for call in rows:
            call.elapsed_hours = calls.elapsed_hours(call.triggered_at, now)
            call.overdue = call.deadline < now
            call.long_outstanding = call.triggered_at < long_before
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
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"{self.kind}-calls-{timezone.localtime(now):%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response.write("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
        writer = csv.writer(response)
        writer.writerow(
            [
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
        )
        for call in ordered.iterator(chunk_size=2000):
            writer.writerow(
                [
                    call.account.account_no,
                    call.account.name,
                    call.account.desk.code if call.account.desk else "",
                    call.status,
                    call.call_type,
                    timezone.localtime(call.triggered_at).isoformat(),
                    timezone.localtime(call.deadline).isoformat(),
                    calls.elapsed_hours(call.triggered_at, now),
                    "" if call.nav_ratio is None else f"{call.nav_ratio:.4f}",
                    f"{call.liquid_nav:.2f}",
                    f"{call.equity:.2f}",
                    f"{call.call_amount:.2f}",
                    timezone.localtime(call.auto_liquidate_at).isoformat() if call.auto_liquidate_at else "",
                    call.remark,
                ]
            )
        return response


class IntradayListView(CallListView):
    kind = AccountKind.INTRADAY


def _ids(text: str) -> set[int]:
    """The ``changed`` ids the page sends back: what is not an id is ignored (it only marks rows)."""
    return {pk for pk in (parse_id(part.strip()) for part in text.split(",")) if pk is not None}


class CallEventsView(ConsoleMixin, View):
    """Server-sent events: ``calls`` with the ids of this kind's calls that changed, as they change.
    The page then fetches its rows again and marks the changed ones."""

    LIFETIME_SECONDS = 300  # the browser reconnects by itself; a reconnect re-checks permissions
    KEEPALIVE_SECONDS = 15
    OVERLAP = timedelta(seconds=2)  # a change committed a moment after a later-stamped one is not lost

    def get(self, request, kind):
        if kind not in LIST_KINDS:
            raise Http404
        scope = visible_calls(request.user).filter(kind=kind)
        response = StreamingHttpResponse(self.stream(scope), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    def stream(self, scope):
        cursor = timezone.now()
        # Changes from just before the page connected are already on the page.
        recent = scope.filter(updated_at__gt=cursor - self.OVERLAP).values_list("pk", "updated_at")
        sent: dict[tuple[int, object], None] = dict.fromkeys(recent)
        started = time.monotonic()
        last_write = started
        yield "retry: 2000\n\n"
        for _wake in push.wakeups(timeout=self.KEEPALIVE_SECONDS):
            changes = list(
                scope.filter(updated_at__gt=cursor - self.OVERLAP)
                .values_list("pk", "updated_at")
                .order_by("updated_at")
            )
            fresh = [(pk, at) for pk, at in changes if (pk, at) not in sent]
            if fresh:
                for key in fresh:
                    sent[key] = None
                cursor = max(cursor, fresh[-1][1])
                horizon = cursor - self.OVERLAP
                sent = {key: None for key in sent if key[1] > horizon}
                yield f"event: calls\ndata: {json.dumps({'calls': sorted({pk for pk, _ in fresh})})}\n\n"
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= self.KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_write = time.monotonic()
            if time.monotonic() - started > self.LIFETIME_SECONDS:
                return


def _call_or_404(request, pk: int) -> MarginCall:
    call = visible_calls(request.user).select_related("account", "account__desk", "exception_by").filter(pk=pk).first()
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


def ratio_chart(snapshots, figures, now, *, width=640, height=180):
    """An SVG polyline of the net asset ratio over the call's life, from its snapshots and, while it
    is open, the current figures. Server-rendered: no script library."""
    points = [(s.taken_at, s.nav_ratio, s.get_kind_display()) for s in snapshots if s.nav_ratio is not None]
    if figures is not None and figures.nav_ratio is not None:
        points.append((now, figures.nav_ratio, _("Now")))
    if not points:
        return None
    pad_left, pad_right, pad_y = 48, 12, 16
    times = [p[0].timestamp() for p in points]
    ratios = [float(p[1]) for p in points]
    t0, t1 = min(times), max(times)
    low, high = min(0.0, *ratios), max(*ratios, 0.0)
    if high - low < 0.05:
        high = low + 0.05
    span_t = (t1 - t0) or 1.0

    def x(t):
        return pad_left + (t - t0) / span_t * (width - pad_left - pad_right) if t1 > t0 else width / 2

    def y(r):
        return pad_y + (high - r) / (high - low) * (height - 2 * pad_y)

    dots = [
        {
            "x": round(x(t), 1),
            "y": round(y(r), 1),
            "label": f"{label} {timezone.localtime(p[0]):%Y-%m-%d %H:%M} {percent(p[1])}",
        }
        for t, r, label, p in zip(times, ratios, [p[2] for p in points], points, strict=True)
    ]
    ticks = sorted({low, high, 0.0})
    return {
        "width": width,
        "height": height,
        "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "grid": [{"y": round(y(r), 1), "label": f"{r * 100:.0f}%"} for r in ticks],
        "zero": round(y(0.0), 1),
        "left": pad_left,
        "right": width - pad_right,
        "start": timezone.localtime(points[0][0]),
        "end": timezone.localtime(points[-1][0]),
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
        closed = visible_calls(request.user).filter(shown, closed_at__isnull=False)
        sort = values.get("sort") or "-closed"
        count = closed.count()
        ordered = closed.select_related("account", "account__desk").order_by(_ordering(sort), "-pk")
        rows, page, pages = _page(ordered, count, values.get("page"))
        for call in rows:
            call.elapsed_hours = calls.elapsed_hours(call.triggered_at, call.closed_at)
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

    def post(self, request):
        form = ExceptionBatchForm(request.POST)
        back = _back(request, reverse("risk:warning"))
        if not form.is_valid():
            errors = _form_errors(form)
            audit.record(request.user, "exception", detail={"errors": errors}, outcome="refused")
            messages.error(request, errors)
            return HttpResponseRedirect(back)
        wanted = form.cleaned_data["calls"]
        allowed = list(visible_calls(request.user).filter(pk__in=wanted).values_list("pk", flat=True))
        if len(allowed) != len(set(wanted)):
            audit.record(request.user, "exception", calls=wanted, outcome="refused: unknown or other desk's call")
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
    action = ""

    def post(self, request, pk):
        call = _call_or_404(request, pk)
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
