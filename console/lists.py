"""The list-page skeleton every console list follows: a filter form, then a selector, then the page,
then the full page or the htmx partial; and CSV of the same filtered rows.

A list page is a :class:`ListPage` with a filter form, a selector and a template:

- the form cleans the query string; a bad value is shown next to its filter and that filter alone is
  not applied;
- the selector (:meth:`ListPage.select`) turns the clean values into a :class:`Selection`: the rows the
  user may see that pass the filters (unordered), their count, and what else the page shows (totals,
  tabs); it lives with the app's other queries, not in the view;
- the skeleton sorts (the form's ``sort``, a key of :attr:`ListPage.sorts`, ``-`` first for
  descending, rows with no value last), pages, asks the selector for the rows' own values
  (:meth:`ListPage.row_values`), and renders the page, or its ``#partial`` for htmx;
- ``?format=csv`` answers the same filtered, sorted rows as CSV (:mod:`console.exports`), every row,
  not one page.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import batched

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, QuerySet
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from .exports import csv_response
from .fields import form_errors
from .permissions import ConsoleMixin

PAGE_SIZE = 50
# A list that grows without end (History, Orders, Notices: millions of rows in a year) counts its rows up
# to this many: past it the page says "more than", and pages stop at the last page it counts (narrower
# filters reach the rest; the CSV holds them all). Counting every row of such a list would take longer
# than the page itself.
COUNT_LIMIT = 10_000
CSV_CHUNK = 2000


@dataclass
class Selection:
    """What a selector found: ``rows`` (filtered, unordered), their ``count``, and ``extra`` context."""

    rows: QuerySet
    count: int | None = None
    extra: dict = field(default_factory=dict)


def ordering(sorts: dict, sort: str, *, filled: Collection[str] = ()):
    """``sort`` is a key of ``sorts`` (whose value is a field, ``-`` first when it reads best
    descending, or an expression to sort by, such as a rank of stored codes), ``-`` first for
    descending; rows with no value go last either way. A key in ``filled`` (a value on every row) is
    sorted plainly, so that one index, read forwards or backwards, serves it both ways."""
    key = sort.lstrip("-")
    path = sorts[key]
    if isinstance(path, str):
        descending = sort.startswith("-") != path.startswith("-")
        expression = F(path.lstrip("-"))
    else:
        descending, expression = sort.startswith("-"), path
    if key in filled:
        return expression.desc() if descending else expression.asc()
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


def never_empty(model, sorts: dict) -> frozenset[str]:
    """The keys of ``sorts`` that name a field every row of ``model`` has a value for: every step to it
    a field that may not be null, or a relation to one row (a many-valued relation may have none; a
    name that is not a field, such as a transform, is not vouched for). Worked out once per list."""
    return _never_empty(model, tuple((key, path) for key, path in sorts.items() if isinstance(path, str)))


@cache
def _never_empty(model, paths: tuple[tuple[str, str], ...]) -> frozenset[str]:
    found = set()
    for key, path in paths:
        at, filled = model, True
        for name in path.lstrip("-").split("__"):
            try:
                step = at._meta.get_field(name)
            except FieldDoesNotExist:
                filled = False
                break
            if step.null or step.many_to_many or step.one_to_many or (step.is_relation and not step.concrete):
                filled = False
                break
            at = step.related_model if step.is_relation else at
        if filled:
            found.add(key)
    return frozenset(found)


def sort_choices(sorts: dict[str, str]) -> list[tuple[str, str]]:
    """A list form's ``sort`` choices: each key of ``sorts``, ascending and (``-`` first) descending."""
    return [(key, key) for key in sorts] + [(f"-{key}", key) for key in sorts]


def page_of(ordered: QuerySet, count: int, wanted: int | None, size: int = PAGE_SIZE) -> tuple[list, int, int]:
    """One page of rows, the page number (clamped to the last page) and the number of pages.

    Two queries: the page's keys, sorted and cut on the list's own table (joined only where a filter
    or the sort needs it), then those rows with everything they show. Asked at once, the database
    joins every matching row before it sorts and cuts: 11,000 open calls, each with its account and
    desk, for 50 shown."""
    pages = max(1, -(-count // size))
    page = min(wanted or 1, pages)
    keys = list(ordered.values_list("pk", flat=True)[(page - 1) * size : page * size])
    found = {row.pk: row for row in ordered.order_by().filter(pk__in=keys)}
    return [found[key] for key in keys if key in found], page, pages


def clean_values(form: forms.Form) -> dict:
    """The form's clean values, without those that failed (shown next to their filter instead)."""
    form.is_valid()
    return {name: value for name, value in form.cleaned_data.items() if name not in form.errors}


class ListPage(ConsoleMixin, View):
    form_class: type[forms.Form]
    template_name: str
    partial: str = ""  # the template's partial for htmx requests ("" for the whole template)
    sorts: dict[str, str]
    default_sort: str
    tiebreak: str = "pk"  # after the sort, so pages never overlap
    filled: Sequence[str] = ()  # sort keys of nullable fields that every row of this list has a value for
    count_limit: int | None = None  # COUNT_LIMIT for a list that grows without end; None counts every row
    page_size = PAGE_SIZE
    csv_name: str = ""  # "" when the list has no CSV; else the file name's start
    dropped_from_query: Sequence[str] = ("page", "format")  # what page links and sort links drop

    def get_form(self, request) -> forms.Form:
        return self.form_class(request.GET)

    def select(self, request, values: dict, now: datetime) -> Selection:
        raise NotImplementedError

    def row_values(self, rows: list, values: dict, now: datetime, selection: Selection) -> None:
        """Set the rows' own values (elapsed hours, flags) from the app's selector."""

    def csv_header(self) -> list:
        raise NotImplementedError

    def csv_row(self, row, now: datetime) -> Iterable:
        raise NotImplementedError

    def context(self, request, values: dict, now: datetime, selection: Selection) -> dict:
        """What the page shows beside the rows, past what the selector gave."""
        return {}

    def get(self, request):
        form = self.get_form(request)
        values = clean_values(form)
        now = timezone.now()
        selection = self.select(request, values, now)
        sort = values.get("sort") or self.default_sort
        filled = never_empty(selection.rows.model, self.sorts) | set(self.filled)
        ordered = selection.rows.order_by(ordering(self.sorts, sort, filled=filled), self.tiebreak)
        # A file of other rows than asked for would pass for the list asked for: not exported.
        refused = form_errors(form, ignore=("page", "sort")) if self.csv_name else ""
        if self.csv_name and request.GET.get("format") == "csv":
            if refused:
                text = _("Not exported: these filters are not valid: %(errors)s") % {"errors": refused}
                return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")
            return self.csv(ordered, now)
        count, more = self.count(selection)
        rows, page, pages = page_of(ordered, count, values.get("page"), self.page_size)
        self.row_values(rows, values, now, selection)
        query = request.GET.copy()
        for name in self.dropped_from_query:
            query.pop(name, None)
        context = {
            "form": form,
            "rows": rows,
            "count": count,
            "count_more": more,  # more rows than counted: count is the limit
            "page": page,
            "pages": pages,
            "sort": sort,
            "query": query,
            "querystring": query.urlencode(),
            "csv_refused": bool(refused),
            **selection.extra,
            **self.context(request, values, now, selection),
        }
        template = self.template_name
        if request.htmx and self.partial:
            template = f"{template}#{self.partial}"
        return render(request, template, context)

    def count(self, selection: Selection) -> tuple[int, bool]:
        """The rows to page through, and whether there are more than that (past ``count_limit``)."""
        if selection.count is not None:
            return selection.count, False
        if self.count_limit is None:
            return selection.rows.count(), False
        found = selection.rows.order_by()[: self.count_limit + 1].count()
        return min(found, self.count_limit), found > self.count_limit

    def csv_chunk(self, rows: list) -> list:
        """A chunk of the file's rows before they are written: where a list reads what its rows need
        (their fills, say) for the whole chunk in one query."""
        return rows

    def csv(self, ordered: QuerySet, now: datetime) -> HttpResponse:
        rows = (
            self.csv_row(row, now)
            for chunk in batched(ordered.iterator(chunk_size=CSV_CHUNK), CSV_CHUNK)
            for row in self.csv_chunk(list(chunk))
        )
        filename = f"{self.csv_name}-{timezone.localtime(now):%Y%m%d-%H%M}.csv"
        return csv_response(filename, self.csv_header(), rows)
