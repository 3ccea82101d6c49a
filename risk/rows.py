"""The rows of the open-call lists (Risk Warning, Intraday Margin Warning), written in Python.

A list page shows 50 rows of 16 cells; drawn by the template engine they were most of the page's
rendering (a variable lookup, a filter and an escape per value). Here each row is one string, written
as the template wrote it: every text escaped, the figures and times through the console's own
formatting (``money``, ``percent``, ``when``), the words in the reader's language, each looked up once
per list."""

from dataclasses import dataclass, field
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.templatetags.console import sign_class, when_in
from console.text import read

from .formatting import money, percent
from .templatetags.figures import call_type_label, notice_status_label

REOPENED = gettext_noop(
    "Reopened: the market or a change of its book closed it, and it was called again within the reopen window"
)
PK_SLOT = 2_147_483_647  # a call number no call has: the detail link's place for each row's own


@dataclass
class Words:
    """What every row of one list shares, read once: the reader's words, zone and year, the link's shape."""

    can_act: bool
    link: list[str] = field(default_factory=lambda: reverse("risk:call", args=[PK_SLOT]).split(str(PK_SLOT)))
    zone: object = field(default_factory=timezone.get_current_timezone)
    this_year: int = 0
    select: str = field(default_factory=lambda: _("Select %(no)s"))
    updated: str = field(default_factory=lambda: escape(_("updated")))
    passed: str = field(default_factory=lambda: escape(_("passed")))
    long_title: str = field(default_factory=lambda: escape(_("Long outstanding")))
    long: str = field(default_factory=lambda: escape(_("long")))
    reopened_title: str = field(default_factory=lambda: escape(_(REOPENED)))
    reopened: str = field(default_factory=lambda: escape(_("reopened")))
    exception: str = field(default_factory=lambda: escape(_("Exception")))
    labels: dict = field(default_factory=dict)  # call types' and notice statuses' words, as met

    def __post_init__(self):
        self.this_year = timezone.localtime(timezone=self.zone).year

    def when(self, moment) -> str:
        return when_in(moment, self.zone, self.this_year) if moment else ""

    def call_type(self, call_type: str) -> str:
        key = ("type", call_type)
        if key not in self.labels:
            self.labels[key] = escape(str(call_type_label(call_type)))
        return self.labels[key]

    def notice_status(self, status: str) -> str:
        key = ("notice", status)
        if key not in self.labels:
            self.labels[key] = escape(str(notice_status_label(status)))
        return self.labels[key]


def call_rows(calls, *, can_act: bool) -> SafeString:
    """The ``<tr>`` of each call, each after a line break and its indent, as the list's table holds them.
    Each call has its list values set (:func:`risk.selectors.with_row_values`, ``changed``)."""
    words = Words(can_act=can_act)
    return SafeString("".join(call_row(call, words) for call in calls))


def call_row(call, words: Words) -> str:
    pk = str(call.pk)
    account_no = escape(call.account.account_no)
    classes = ("updated" if call.changed else "") + (" overdue" if call.overdue else "")
    pick = ""
    if words.can_act:
        label = words.select % {"no": account_no}
        pick = (
            f'<td class="pick"><input type="checkbox" name="calls" value="{pk}" form="batch" aria-label="{label}"></td>'
        )
    updated = f' <span class="updated-mark" data-testid="updated-mark">{words.updated}</span>' if call.changed else ""
    passed = f' <span class="flag overdue-flag">{words.passed}</span>' if call.overdue else ""
    long = f' <span class="flag" title="{words.long_title}">{words.long}</span>' if call.long_outstanding else ""
    reopened = (
        f' <span class="flag" title="{words.reopened_title}">{words.reopened}</span>' if call.reopened_count else ""
    )
    if call.last_notice_at:
        status = call.last_notice_status
        notice = (
            f'{words.when(call.last_notice_at)} <span class="state state-notice-{escape(status)}">'
            f"{words.notice_status(status)}</span>"
        )
    else:
        notice = "—"
    auto = words.when(call.auto_liquidate_at) or "—"
    if call.auto_liquidation_note:
        note = escape(read(call.auto_liquidation_note))
        auto += f'<br><span class="meta cell-note" data-testid="auto-note">{note}</span>'
    # Every row of the Exception tab is one: its reason, without a tag to say so.
    joiner = " · " if call.remark else ""
    title = f"{words.exception}: {escape(call.exception_reason)}{joiner}" if call.status == "exception" else ""
    shown = f"{escape(Truncator(call.exception_reason).chars(80))}{joiner}" if call.status == "exception" else ""
    return (
        f'\n      <tr data-call="{pk}" data-account="{account_no}" class="{classes}">'
        f"\n        {pick}"
        f'\n        <td class="nowrap"><a href="{words.link[0]}{pk}{words.link[1]}">{account_no}</a>{updated}</td>'
        f'\n        <td class="name">{escape(call.account.name)}</td>'
        f'\n        <td><span class="pill type-{escape(call.call_type)}">{words.call_type(call.call_type)}</span></td>'
        f'\n        <td class="nowrap">{words.when(call.triggered_at)}</td>'
        f'\n        <td class="nowrap">{words.when(call.deadline)}{passed}</td>'
        f'\n        <td class="num">{call.elapsed_hours}{long}</td>'
        f'\n        <td class="num" data-testid="days-called">{call.days_called}{reopened}</td>'
        f'\n        <td class="num {sign_class(call.nav_ratio)}" data-figure="nav_ratio">'
        f"{escape(percent(call.nav_ratio))}</td>"
        f'\n        <td class="num {sign_class(call.liquid_nav)}" data-figure="liquid_nav">'
        f"{escape(money(call.liquid_nav))}</td>"
        f'\n        <td class="num {sign_class(call.equity)}" data-figure="equity">{escape(money(call.equity))}</td>'
        f'\n        <td class="num strong" data-figure="call_amount">{escape(money(call.call_amount))}</td>'
        f'\n        <td class="nowrap" data-testid="last-notice">{notice}</td>'
        f'\n        <td class="nowrap">{auto}</td>'
        f'\n        <td class="remark" title="{title}{escape(call.remark)}"><div class="clamp">'
        f"{shown}{escape(Truncator(call.remark).chars(120))}</div></td>"
        "\n      </tr>\n    "
    )
