"""The call pages and actions: what the lists show, filters, CSV, batch exception, remarks and deadline
moves through the forms, bad input, query counts. The permission matrix over every URL is in
test_permission_matrix."""

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from book.models import Account
from console.models import AuditEntry
from risk.models import AccountRisk, MarginCall
from tests.books import one_stock_book
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db

# The deadline M100001's page shows (Unix seconds), which a deadline form sends back with the new one.
SHOWN = "1798531200"  # 2026-12-29 16:00 in Hong Kong


def shown_of(call) -> str:
    return str(int(MarginCall.objects.get(pk=call.pk).deadline.timestamp()))


@pytest.fixture
def call(book):
    return MarginCall.objects.get(account__account_no="M100001")  # desk HK1


class Action(NamedTuple):
    url: str
    data: dict
    name: str  # the audit log's name for it
    calls: list[int]  # the call ids it names


def views_of(call):
    """Every console view of a call: pages (GET) and actions (POST with their data)."""
    snapshot = call.snapshots.first()
    pages = [
        reverse("risk:warning"),
        reverse("risk:warning") + "?tab=exception&type=force_call&overdue=on&q=M1",
        reverse("risk:warning") + "?format=csv",
        reverse("risk:intraday"),
        reverse("risk:history"),
        reverse("risk:call", args=[call.pk]),
        reverse("risk:freshness") + f"?call={call.pk}",
        reverse("risk:snapshot", args=[call.pk, snapshot.pk]),
    ]
    actions = [
        Action(
            reverse("risk:exception-batch"),
            {"action": "mark", "reason": "r", "calls": [call.pk]},
            "exception",
            [call.pk],
        ),
        Action(
            reverse("risk:call-exception", args=[call.pk]), {"action": "mark", "reason": "r"}, "exception", [call.pk]
        ),
        Action(reverse("risk:call-remark", args=[call.pk]), {"text": "hello"}, "add_remark", [call.pk]),
        Action(
            reverse("risk:call-deadline", args=[call.pk]),
            {"deadline": "2027-01-05T16:00", "reason": "r", "shown": shown_of(call)},
            "move_deadline",
            [call.pk],
        ),
    ]
    return pages, actions


def assert_refused_and_audited(client, action: Action, status: int):
    """The request is refused with ``status`` and leaves one audit row: the action, its calls, "refused..."."""
    before = AuditEntry.objects.count()
    assert client.post(action.url, action.data).status_code == status, action.url
    assert AuditEntry.objects.count() == before + 1, action.url
    entry = AuditEntry.objects.order_by("pk").last()
    assert (entry.action, entry.targets) == (action.name, [{"call": pk} for pk in action.calls]), action.url
    assert entry.outcome.startswith("refused"), (action.url, entry.outcome)
    assert entry.user is not None


@pytest.mark.parametrize(
    ("endpoint", "data", "name"),
    [
        ("risk:call-remark", {"text": "hello"}, "add_remark"),
        ("risk:call-deadline", {"deadline": "2027-01-05T16:00", "reason": "r", "shown": SHOWN}, "move_deadline"),
        ("risk:call-exception", {"action": "mark", "reason": "r"}, "exception"),
    ],
)
def test_an_action_on_an_unknown_call_is_a_404_in_the_audit_log(call, trader, endpoint, data, name):
    action = Action(reverse(endpoint, args=[999999]), data, name, [999999])

    assert_refused_and_audited(client_for(trader), action, 404)


def test_a_batch_naming_an_unknown_call_is_a_404_in_the_audit_log(call, trader):
    data = {"action": "mark", "reason": "r", "calls": [call.pk, 999999]}
    action = Action(reverse("risk:exception-batch"), data, "exception", [call.pk, 999999])

    assert_refused_and_audited(client_for(trader), action, 404)
    assert not MarginCall.objects.filter(status="exception").exists()


def test_a_user_without_console_permission_is_refused_an_action_in_the_audit_log(call):
    action = Action(reverse("risk:call-remark", args=[call.pk]), {"text": "x"}, "add_remark", [call.pk])

    assert_refused_and_audited(client_for(make_user("nobody")), action, 403)


def test_the_viewer_sees_no_action_buttons(call, viewer):
    client = client_for(viewer)
    for url in (reverse("risk:warning"), reverse("risk:call", args=[call.pk])):
        html = client.get(url).content.decode()
        assert 'data-testid="mark-exception"' not in html
        assert 'data-testid="add-remark"' not in html
        assert 'data-testid="move-deadline"' not in html
        assert 'name="calls"' not in html


def test_the_call_pages_head_follows_its_figures_with_the_freshness_it_polls(call, viewer, desk_trader):
    page = client_for(viewer).get(reverse("risk:call", args=[call.pk])).content.decode()
    assert f'hx-get="{reverse("risk:freshness")}?call={call.pk}"' in page
    # A price moved the account: the poll brings the head as it is now, with the call's type and status.
    AccountRisk.objects.filter(account_id=call.account_id).update(call_amount=Decimal("4321.00"))
    MarginCall.objects.filter(pk=call.pk).update(call_type="force_call", call_amount=Decimal("4321.00"))

    part = client_for(viewer).get(reverse("risk:freshness"), {"call": call.pk}).content.decode()

    assert f'hx-get="{reverse("risk:freshness")}?call={call.pk}"' in part  # the next poll names it too
    assert '<div class="tiles" id="call-tiles" hx-swap-oob="true">' in part
    assert (
        'data-testid="amount-now"><span class="label">Call amount now (HKD)</span><span class="value small">4,321.00<'
        in part
    )
    assert 'id="call-type" data-testid="call-type" hx-swap-oob="true">Force call<' in part
    assert 'id="call-status" data-testid="call-status" hx-swap-oob="true"' in part
    # A list's poll brings no head; another desk's call, or no call, is a 404.
    assert "call-tiles" not in client_for(viewer).get(reverse("risk:freshness")).content.decode()
    assert client_for(desk_trader).get(reverse("risk:freshness"), {"call": call.pk}).status_code == 404
    assert client_for(viewer).get(reverse("risk:freshness"), {"call": "x\x00"}).status_code == 404


def test_a_closed_calls_head_is_drawn_without_a_poll(import_book, call, trader):
    import_book(one_stock_book(desk="HK2", account_no="T2", as_of="2026-12-24T09:45:00+08:00", cash="-40000"))
    closed = MarginCall.objects.get(account__account_no="T2")

    page = client_for(trader).get(reverse("risk:call", args=[closed.pk])).content.decode()

    assert 'id="call-tiles"' in page
    assert "freshness" not in page


def test_a_desk_trader_lists_only_their_desks_calls(call, desk_trader, trader):
    listed = lambda user: [c.account.account_no for c in client_for(user).get(reverse("risk:warning")).context["rows"]]  # noqa: E731

    assert listed(desk_trader) == ["T2"]
    assert sorted(listed(trader)) == ["M100001", "T2"]


def test_the_risk_warning_list_shows_the_columns_and_totals(call, trader):
    response = client_for(trader).get(reverse("risk:warning"))

    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["count"] == 2
    assert totals["amount"] == Decimal("135400.00") + Decimal("10000.00")
    html = response.content.decode()
    for text in (
        "M100001",
        "Chan Tai Man",
        "Force call",
        "2026-12-23 10:00",
        "2026-12-29 16:00",
        "10.45%",
        "87,800.00",
        "92,800.00",
        "135,400.00",
    ):
        assert text in html, text
    # The intraday account's call is on the Intraday page, not here.
    assert "I200001" not in html
    assert "I200001" in client_for(trader).get(reverse("risk:intraday")).content.decode()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Force call", "passed", "reopened", "Exception: ", "Not sold", "Failed"]),
        ("zh-hans", ["强平追保", "已过期", "重开", "异常单: ", "未卖出", "失败"]),
        ("zh-hant", ["強平追保", "已過期", "重開", "異常單: ", "未賣出", "失敗"]),
    ],
)
def test_a_list_row_escapes_what_people_typed_and_reads_in_the_readers_language(call, trader, language, words):
    """The rows are written in Python (risk.rows): what a client's name, a remark or an exception's reason
    holds is text, never markup; the row's words are the reader's."""
    Account.objects.filter(pk=call.account_id).update(name='Chan "Tai" <b>Man</b> & Co')
    MarginCall.objects.filter(pk=call.pk).update(
        status="exception",
        exception_reason="<script>alert(1)</script>" + "r" * 100,
        remark='Said "<i>soon</i>"',
        reopened_count=1,
        deadline=timezone.now() - timezone.timedelta(hours=1),
        last_notice_at=timezone.now(),
        last_notice_status="failed",
        auto_liquidation_note={"en": "Not sold <x>", "zh-hans": "未卖出 <x>", "zh-hant": "未賣出 <x>"},
    )
    session = client_for(trader)
    session.cookies["django_language"] = language
    html = session.get(reverse("risk:warning") + "?tab=exception").content.decode()

    row = re.search(rf'<tr data-call="{call.pk}".*?</tr>', html, re.S).group(0)
    assert [tag for tag in ("<script>", "<b>", "<i>") if tag in row] == []
    assert "Chan &quot;Tai&quot; &lt;b&gt;Man&lt;/b&gt; &amp; Co" in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" + "r" * 100 + " · Said" in row  # the whole reason, in the title
    assert re.search("&gt;r{40,79}(…|\\.\\.\\.) · Said", row)  # shown cut to 80 characters
    assert "Said &quot;&lt;i&gt;soon&lt;/i&gt;&quot;" in row
    assert "&lt;x&gt;</span>" in row
    assert f'href="{reverse("risk:call", args=[call.pk])}"' in row
    for word in words:
        assert word in row, word


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"type": "force_call"}, ["M100001"]),
        ({"type": "margin_call"}, ["T2"]),
        ({"desk": "HK2"}, ["T2"]),
        ({"q": "m1000"}, ["M100001"]),
        ({"q": "test client"}, ["T2"]),
        ({"ratio_min": "20"}, ["T2"]),
        ({"ratio_max": "20"}, ["M100001"]),
        ({"sort": "amount"}, ["T2", "M100001"]),
        ({"sort": "-amount"}, ["M100001", "T2"]),
        ({"long": "on"}, []),
    ],
)
def test_filters_search_and_sort(call, trader, query, expected):
    response = client_for(trader).get(reverse("risk:warning"), query)

    assert [c.account.account_no for c in response.context["rows"]] == expected


def test_sorting_by_type_puts_force_calls_first_not_the_codes_order(call, trader):
    MarginCall.objects.filter(account__account_no="T2").update(call_type="debit")  # "debit" < "force_call"
    client = client_for(trader)

    by_type = client.get(reverse("risk:warning"), {"sort": "type"}).context["rows"]
    by_type_down = client.get(reverse("risk:warning"), {"sort": "-type"}).context["rows"]

    assert [c.account.account_no for c in by_type] == ["M100001", "T2"]
    assert [c.account.account_no for c in by_type_down] == ["T2", "M100001"]


def test_the_deadline_passed_filter(call, trader):
    # The book's calls fall due on 29 Dec 2026, after today.
    assert client_for(trader).get(reverse("risk:warning"), {"overdue": "on"}).context["rows"] == []
    MarginCall.objects.filter(pk=call.pk).update(deadline="2026-01-02T08:00:00Z")
    rows = client_for(trader).get(reverse("risk:warning"), {"overdue": "on"}).context["rows"]
    assert [c.account.account_no for c in rows] == ["M100001"]


@pytest.mark.parametrize(
    "query",
    [
        {"ratio_min": "abc"},
        {"type": "bogus"},
        {"page": "-3"},
        {"sort": "drop table"},
        {"desk": "XX"},
        {"ratio_min": "20", "ratio_max": "10"},  # neither end of a range upside down is applied
        {"ratio_min": "abc", "ratio_max": "20"},  # nor the good end of a range with a bad one
        {"ratio_min": "20", "ratio_max": "1e400"},
    ],
)
def test_a_bad_filter_value_is_named_and_ignored(call, trader, query):
    response = client_for(trader).get(reverse("risk:warning"), query)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert 'class="error filter-errors"' in response.content.decode()
    assert len(response.context["rows"]) == 2
    # Each field named once before its errors, as the CSV's refusal names it.
    line = re.search(r'class="error filter-errors" role="alert">(.*?)</p>', response.content.decode()).group(1)
    for field in response.context["form"]:
        assert line.count(f"{field.label}: ") <= 1, line


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"desk": "NOPE"}, "Desk: Select a valid choice."),
        ({"q": "M1\x00"}, "Contains a character that is not allowed (U+0000)."),
        ({"ratio_min": "1e400"}, "Ratio from (%)"),
        # A field's errors after its label once.
        ({"ratio_min": "abc"}, "Ratio from (%): Enter a number. The list is not filtered by ratio."),
    ],
)
def test_a_csv_is_not_exported_with_filters_that_are_not_valid(call, trader, query, said):
    response = client_for(trader).get(reverse("risk:warning"), {**query, "format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith("Not exported: these filters are not valid: ")
    assert said in text
    if said.startswith("Ratio"):
        assert text.count("Ratio from (%)") == 1
    assert text.isprintable()
    # The page those filters draw offers no link to that refusal: its export waits for valid filters.
    page = client_for(trader).get(reverse("risk:warning"), query).content.decode()
    assert '<span class="button disabled" role="link" aria-disabled="true" data-testid="csv"' in page
    assert "format=csv" not in page
    assert "format=csv" in client_for(trader).get(reverse("risk:warning")).content.decode()


def test_csv_exports_what_the_filters_show(call, trader):
    response = client_for(trader).get(reverse("risk:warning"), {"type": "force_call", "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Account", "Name", "Desk"]
    assert [row[0] for row in rows[1:]] == ["M100001"]
    assert rows[1][11] == "135400.00"
    assert rows[1][6] == "2026-12-29T16:00:00+08:00"
    assert rows[1][3:5] == ["Open", "Force call"]  # in words, as on the page, not the stored codes
    MarginCall.objects.filter(pk=call.pk).update(
        auto_liquidation_note={
            "en": "2026-12-23 11:29 waiting: HKEX is not trading",
            "zh-hant": "2026-12-23 11:29 等待中：港交所不在交易時段",
        }
    )
    rows = list(
        csv.reader(
            io.StringIO(client_for(trader).get(reverse("risk:warning"), {"format": "csv"}).content.decode("utf-8-sig"))
        )
    )
    outcome = rows[0].index("Auto-liquidation outcome")  # what the list shows under the time, in the file too
    assert {row[0]: row[outcome] for row in rows[1:]}["M100001"] == "2026-12-23 11:29 waiting: HKEX is not trading"

    response = client_for(trader).get(
        reverse("risk:warning"), {"type": "force_call", "format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][3:5] == ["未結", "強平追保"]
    assert rows[1][outcome] == "2026-12-23 11:29 等待中：港交所不在交易時段"  # the reader's language


def test_marking_exception_moves_the_call_to_the_exception_tab(call, trader):
    client = client_for(trader)
    response = client.post(
        reverse("risk:exception-batch"),
        {"action": "mark", "reason": "client disputes", "calls": [call.pk], "next": reverse("risk:warning")},
    )
    assert response.status_code == 302

    active = client.get(reverse("risk:warning")).context["rows"]
    exception = client.get(reverse("risk:warning"), {"tab": "exception"}).context["rows"]
    assert [c.pk for c in exception] == [call.pk]
    assert call.pk not in [c.pk for c in active]
    assert AuditEntry.objects.get(action="mark_exception").user == trader

    client.post(reverse("risk:exception-batch"), {"action": "unmark", "calls": [call.pk]})
    assert client.get(reverse("risk:warning"), {"tab": "exception"}).context["rows"] == []
    # Unmarked again: nothing changed, said as a warning alone (no green "0 calls back to active").
    again = client.post(reverse("risk:exception-batch"), {"action": "unmark", "calls": [call.pk]}, follow=True)
    said = [(message.level_tag, str(message)) for message in again.context["messages"]]
    assert said == [("warning", "1 call was already so or has closed; left as it is.")]


def test_marking_without_a_reason_is_refused_and_audited(call, trader):
    response = client_for(trader).post(
        reverse("risk:exception-batch"), {"action": "mark", "calls": [call.pk]}, follow=True
    )

    assert "A reason is required" in response.content.decode()
    call.refresh_from_db()
    assert call.status == "open"
    assert AuditEntry.objects.get().outcome == "refused"


@pytest.mark.parametrize("calls", [["abc"], ["999999"], []])
def test_forged_batch_requests_change_nothing(call, trader, calls):
    response = client_for(trader).post(
        reverse("risk:exception-batch"), {"action": "mark", "reason": "x", "calls": calls}
    )

    assert response.status_code in (302, 404)
    assert not MarginCall.objects.filter(status="exception").exists()


def test_a_batch_with_another_desks_call_is_refused_whole(call, desk_trader):
    mine = MarginCall.objects.get(account__account_no="T2")
    response = client_for(desk_trader).post(
        reverse("risk:exception-batch"), {"action": "mark", "reason": "x", "calls": [mine.pk, call.pk]}
    )

    assert response.status_code == 404
    assert not MarginCall.objects.filter(status="exception").exists()


def test_a_remark_is_as_long_as_the_browser_counts_it(call, trader):
    """A browser sends each line break as CR LF and counts it as one character against the box's
    maxlength (2,000): ten lines of 199 characters fill 1,999 of them."""
    text = "\r\n".join(["x" * 199] * 10)
    assert len(text) == 2008

    response = client_for(trader).post(reverse("risk:call-remark", args=[call.pk]), {"text": text}, follow=True)

    call.refresh_from_db()
    assert call.remark == "\n".join(["x" * 199] * 10), [str(m) for m in response.context["messages"]]


def test_remark_and_deadline_forms(call, trader):
    client = client_for(trader)
    client.post(reverse("risk:call-remark", args=[call.pk]), {"text": "called the client"})
    client.post(
        reverse("risk:call-deadline", args=[call.pk]),
        {"deadline": "2027-01-05T16:00", "reason": "agreed", "shown": shown_of(call)},
    )

    call.refresh_from_db()
    assert call.remark == "called the client"
    assert call.deadline.isoformat() == "2027-01-05T08:00:00+00:00"
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert "called the client" in html
    assert "agreed" in html
    assert "HKEX session close" in html  # moved to a session's close

    client.post(
        reverse("risk:call-deadline", args=[call.pk]),
        {"deadline": "2027-01-05T11:00", "reason": "agreed", "shown": shown_of(call)},
    )
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert "HKEX session close" not in html
    assert "set by a trader" in html


@pytest.mark.parametrize(
    "data",
    [
        {"deadline": "not a date", "reason": "x", "shown": SHOWN},
        {"deadline": "2027-01-05T16:00"},
        {"deadline": "2020-01-01T10:00", "reason": "x", "shown": SHOWN},
        {"deadline": "2027-01-05T16:00\x00", "reason": "x", "shown": SHOWN},
        {"deadline": "2027-01-05T16:00\t", "reason": "x", "shown": SHOWN},
        {"deadline": "2026-12-29T16:00", "reason": "the same deadline", "shown": SHOWN},
    ],
)
def test_a_bad_deadline_is_refused_with_a_message(call, trader, data):
    response = client_for(trader).post(reverse("risk:call-deadline", args=[call.pk]), data, follow=True)

    assert response.status_code == 200
    assert 'class="message error"' in response.content.decode()
    call.refresh_from_db()
    assert call.deadline.isoformat() == "2026-12-29T08:00:00+00:00"


def test_history_lists_closed_calls_with_the_cause_and_before_after(import_book, call, trader):
    import_book(one_stock_book(desk="HK2", account_no="T2", as_of="2026-12-24T09:45:00+08:00", cash="-40000"))
    closed = MarginCall.objects.get(account__account_no="T2")

    response = client_for(trader).get(reverse("risk:history"), {"cause": "deposit"})
    assert [c.pk for c in response.context["rows"]] == [closed.pk]
    details = client_for(trader).get(reverse("risk:call", args=[closed.pk]))
    compare = details.context["compare"]
    assert (compare["before"].kind, compare["after"].kind) == ("trigger", "close")
    assert ("call_amount", "10000.00", "0.00") in compare["rows"]
    # The amount tile reads the call as it ended, from its close snapshot, not the account now.
    page = details.content.decode()
    assert details.context["at_close"] == compare["after"]
    assert 'data-testid="amount-at-close"' in page
    assert "Call amount at the close (HKD)" in page
    assert "Call amount now" not in page
    assert "No liquidation order was placed for this call." in page  # not an empty panel
    open_page = client_for(trader).get(reverse("risk:call", args=[call.pk])).content.decode()
    assert "Call amount now (HKD)" in open_page
    assert "amount-at-close" not in open_page
    # The account's book below a closed call is today's, and says so; an open call's is its own.
    assert "Below is the account as it stands now, not as it was when this call closed at 2026-12-24 09:45" in page
    assert 'data-testid="book-now"' not in open_page


def test_history_exports_the_same_filtered_rows_as_csv(import_book, call, trader):
    import_book(one_stock_book(desk="HK2", account_no="T2", as_of="2026-12-24T09:45:00+08:00", cash="-40000"))
    client = client_for(trader)

    response = client.get(reverse("risk:history"), {"cause": "deposit", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response["Content-Disposition"].startswith('attachment; filename="call-history-')
    assert rows[0][:3] == ["Account", "Name", "Desk"]
    assert [(row[0], row[3], row[8], row[10]) for row in rows[1:]] == [("T2", "Margin", "Deposit", "10000.00")]
    # A filter that leaves nothing leaves only the header.
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("risk:history"), {"cause": "market", "format": "csv"}).content.decode("utf-8-sig")
            )
        )
    )
    assert len(rows) == 1


def test_the_details_page_charts_the_ratio(call, trader):
    response = client_for(trader).get(reverse("risk:call", args=[call.pk]))

    chart = response.context["chart"]
    assert len(chart["dots"]) == 2  # the trigger snapshot and now
    assert 'data-testid="ratio-chart"' in response.content.decode()


def test_the_list_runs_a_constant_number_of_queries(book, trader, import_book, django_assert_num_queries):
    client = client_for(trader)
    client.get(reverse("risk:warning"))  # session and permission caches warm the same way each time
    # Session, user, two permission reads, desks, rule set, tab counts, filtered totals, the page's keys,
    # its rows, days called, the figures' freshness, the prices held by their band and the last price's
    # time (in trading), the automatic liquidation switch (the batch bar).
    with django_assert_num_queries(15) as few:
        client.get(reverse("risk:warning"))
    import_book({"accounts": [{"account_no": f"X{n}", "desk": "HK1", "cash": {"HKD": "-1000"}} for n in range(60)]})
    assert MarginCall.objects.filter(closed_at__isnull=True, account__kind="margin").count() == 62
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse("risk:warning"))
    assert len(response.context["rows"]) == 50
    assert Account.objects.count() > 60


def test_csv_cells_cannot_become_formulas_and_figures_stay_numbers(call, trader, import_book):
    # Price 50: T2's equity is 50,000 - 60,000 = -10,000, a negative figure of an open call.
    import_book(one_stock_book(desk="HK2", account_no="T2", price="50"))
    MarginCall.objects.filter(pk=call.pk).update(remark='=HYPERLINK("http://x","y")')
    Account.objects.filter(account_no="M100001").update(name="+1")
    Account.objects.filter(account_no="T2").update(name="-2+3")
    MarginCall.objects.filter(account__account_no="T2").update(remark="@SUM(A1)")

    response = client_for(trader).get(reverse("risk:warning"), {"format": "csv"})

    text = response.content.decode("utf-8-sig")
    rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
    assert (rows["M100001"][1], rows["M100001"][15]) == ("'+1", '\'=HYPERLINK("http://x","y")')
    assert (rows["T2"][1], rows["T2"][15]) == ("'-2+3", "'@SUM(A1)")
    assert rows["T2"][10] == "-10000.00"
    # Text is quoted; the program's own figures are bare numbers a spreadsheet adds up.
    t2_line = next(line for line in text.splitlines() if line.startswith('"T2"'))
    assert ",-10000.00," in t2_line
    assert '"\'-2+3"' in t2_line


def test_no_page_fragment_or_csv_is_kept_in_a_cache(call, trader):
    client = client_for(trader)
    answers = {
        "list": client.get(reverse("risk:warning")),
        "fragment": client.get(reverse("risk:warning"), headers={"HX-Request": "true"}),
        "csv": client.get(reverse("risk:warning"), {"format": "csv"}),
        "details": client.get(reverse("risk:call", args=[call.pk])),
        "history": client.get(reverse("risk:history")),
        "account": client.get(reverse("risk:account", args=["M100001"])),
        "action": client.post(reverse("risk:call-remark", args=[call.pk]), {"text": "x"}),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 302), name
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control, name


def test_ids_that_are_not_ascii_digits_are_named_not_a_500(call, trader):
    client = client_for(trader)

    response = client.post(reverse("risk:exception-batch"), {"action": "mark", "reason": "x", "calls": ["²"]})
    assert response.status_code == 302
    assert client.get(reverse("risk:warning"), {"changed": "²,١"}).status_code == 200
    assert not MarginCall.objects.filter(status="exception").exists()


def test_console_pages_carry_the_content_security_policy(call, trader):
    response = client_for(trader).get(reverse("risk:warning"))

    policy = dict(directive.split(" ", 1) for directive in response["Content-Security-Policy"].split("; "))
    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|\shx-on|\shx-vars=|javascript:", re.I)


def test_no_console_page_has_inline_script_style_or_handler(call, trader, viewer):
    pages, _actions = views_of(call)
    urls = [url for url in pages if "format=csv" not in url] + [
        reverse("risk:home"),
        reverse("risk:account", args=["M100001"]),
        reverse("risk:call", args=[999999]),  # the 404 page
    ]
    for client in (client_for(trader), client_for(viewer)):
        for url in urls:
            html = client.get(url).content.decode()
            assert not INLINE.search(html), (url, INLINE.search(html))
        fragment = client.get(reverse("risk:warning"), headers={"HX-Request": "true"}).content.decode()
        assert not INLINE.search(fragment)
    login = Client().get(reverse("login")).content.decode()
    refused = client_for(make_user("nobody")).get(reverse("risk:home")).content.decode()  # the 403 page
    for html in (login, refused):
        assert not INLINE.search(html), INLINE.search(html)
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles":false,"allowEval":false}\'>' in login


@pytest.mark.parametrize("changed", ["²", "٣", "１", "9" * 5000, "-1", "x,,²,+", "\u0000"])
def test_a_changed_id_that_is_not_an_id_is_ignored(call, trader, changed):
    response = client_for(trader).get(reverse("risk:warning"), {"changed": changed})

    assert response.status_code == 200
    assert not any(row.changed for row in response.context["rows"])


def test_changed_ids_still_mark_their_rows(call, trader):
    response = client_for(trader).get(reverse("risk:warning"), {"changed": f"²,{call.pk}"})

    assert [row.pk for row in response.context["rows"] if row.changed] == [call.pk]


@pytest.mark.parametrize(
    "query",
    [
        {"q": "M1\u0000"},
        {"q": "\u0007"},
        {"ratio_min": "٣"},
        {"ratio_max": "1e999999999"},
        {"ratio_min": "9" * 5000},
        {"page": "²"},
        {"page": "9" * 5000},
    ],
)
def test_nasty_filter_values_are_named_and_ignored(call, trader, query):
    for name in ("risk:warning", "risk:intraday"):
        response = client_for(trader).get(reverse(name), query)

        assert response.status_code == 200
        assert response.context["form"].errors


@pytest.mark.parametrize(
    "query",
    [
        {"closed_from": "0000-00-00"},
        {"closed_to": "9999-99-99"},
        {"closed_from": "٢٠٢٦-١٢-٢٣"},
        {"q": "\u0000"},
        {"page": "１"},
    ],
)
def test_nasty_history_filters_are_named_and_ignored(call, trader, query):
    response = client_for(trader).get(reverse("risk:history"), query)

    assert response.status_code == 200
    assert response.context["form"].errors


def test_a_reversed_history_day_range_is_said_and_not_applied(call, trader):
    from risk.calls import end_call

    end_call(call.pk, user=trader, reason="paid")
    client = client_for(trader)
    query = {"closed_from": "2026-12-30", "closed_to": "2026-12-01"}

    page = client.get(reverse("risk:history"), query)
    export = client.get(reverse("risk:history"), {**query, "format": "csv"})

    assert "The last day must not be before the first; the list is not filtered by day." in page.content.decode()
    assert [row.pk for row in page.context["rows"]] == [call.pk]  # the range the trader did not mean is not cut
    assert export.status_code == 400  # refused, as any invalid filter, not an empty file


@pytest.mark.parametrize(
    ("calls", "error"),
    [
        (["²"], "Not a call: “²”."),
        (["9" * 5000], "Not a call: “99999"),
        (["1", "\u0000"], "Not a call: “\\x00”."),
        ([""], "Not a call: “”."),
        ([str(n) for n in range(1, 1002)], "Select at most 1000 calls at a time."),
    ],
)
def test_a_batch_naming_something_that_is_not_a_call_is_refused(call, trader, calls, error):
    response = client_for(trader).post(
        reverse("risk:exception-batch"), {"action": "mark", "reason": "x", "calls": calls}, follow=True
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not MarginCall.objects.filter(status="exception").exists()
    assert AuditEntry.objects.get().outcome == "refused"


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("risk:call-exception", {"action": "mark\u0000", "reason": "x"}),
        ("risk:call-exception", {"action": "mark", "reason": "client\u0000disputes"}),
        ("risk:call-remark", {"text": "called\u0000"}),
        ("risk:call-remark", {"text": "\u001b[2J"}),
        ("risk:call-deadline", {"deadline": "9999-99-99T99:99", "reason": "x", "shown": SHOWN}),
        ("risk:call-deadline", {"deadline": "٢٠٢٧-01-05T16:00", "reason": "x", "shown": SHOWN}),
        ("risk:call-deadline", {"deadline": "2027-01-05T16:00", "reason": "agreed\u0000", "shown": SHOWN}),
    ],
)
def test_a_nasty_value_in_a_call_action_is_refused_with_a_message(call, trader, action, data):
    before = MarginCall.objects.values().get(pk=call.pk)

    response = client_for(trader).post(reverse(action, args=[call.pk]), data, follow=True)

    assert response.status_code == 200
    assert 'class="message error"' in response.content.decode()
    assert MarginCall.objects.values().get(pk=call.pk) == before
    entry = AuditEntry.objects.get()
    assert entry.outcome == "refused"
    assert "\u0000" not in entry.detail["errors"]


@pytest.mark.parametrize(
    ("action", "data", "said"),
    [
        (
            "risk:call-exception",
            {"action": "x" * 100_000, "reason": "r"},
            "Action: Select a valid choice. xxxxx",
        ),
        ("risk:call-deadline", {"deadline": "2027-01-05T16:00"}, "Reason: This field is required."),
        ("risk:call-remark", {"text": "x" * 5000}, "Remark: Ensure this value has at most"),
        # Only invisible characters say nothing: as if nothing were typed.
        ("risk:call-remark", {"text": "\ufeff\u200b "}, "Remark: This field is required."),
        ("risk:call-end", {"reason": "\u200b"}, "Reason: This field is required."),
        ("risk:call-exception", {"action": "mark", "reason": "\u2060"}, "Reason: A reason is required"),
        # Bytes that were not UTF-8 arrive as U+FFFD: refused, not stored as such.
        (
            "risk:call-remark",
            {"text": "called \ufffd"},
            "Remark: Contains U+FFFD, which stands for bytes that were not UTF-8 text: type it again.",
        ),
        # One error a field, not the field's own and a second about what it lacks.
        ("risk:call-exception", {"action": "mark", "reason": "a\u0000b"}, "Reason: Contains a character"),
    ],
)
def test_a_refused_action_names_the_field_in_a_message_of_bounded_length(call, trader, action, data, said):
    response = client_for(trader).post(reverse(action, args=[call.pk]), data, follow=True)

    [message] = [str(message) for message in response.context["messages"]]
    assert message.startswith(said)
    assert len(message) <= 250
    assert AuditEntry.objects.get().detail["errors"] == message


def test_a_remark_may_span_lines(call, trader):
    client_for(trader).post(reverse("risk:call-remark", args=[call.pk]), {"text": "called\r\n\tno answer"})

    call.refresh_from_db()
    assert call.remark == "called\n\tno answer"  # a line break as one character, as the browser counted it


@pytest.mark.parametrize("pk", ["9" * 25, "9" * 5000])
def test_a_call_id_past_any_key_is_a_404(call, trader, pk):
    client = client_for(trader)

    assert client.get(f"/calls/{pk}/").status_code == 404
    assert client.get(f"/calls/{call.pk}/snapshots/{pk}/").status_code == 404
    assert client.post(f"/calls/{pk}/remark/", {"text": "x"}).status_code == 404


def test_a_next_that_is_not_a_path_goes_back_to_the_list(call, trader):
    response = client_for(trader).post(
        reverse("risk:exception-batch"), {"action": "unmark", "calls": [call.pk], "next": "A B"}
    )

    assert (response.status_code, response.url) == (302, reverse("risk:warning"))


@pytest.mark.parametrize("deadline", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00+00:00", "0001-01-01T00:00"])
def test_a_deadline_without_a_utc_or_hong_kong_time_is_refused(call, trader, deadline):
    response = client_for(trader).post(
        reverse("risk:call-deadline", args=[call.pk]),
        {"deadline": deadline, "reason": "x", "shown": shown_of(call)},
        follow=True,
    )

    assert "Enter a valid date/time." in response.content.decode()
    call.refresh_from_db()
    assert call.deadline.isoformat() == "2026-12-29T08:00:00+00:00"


def test_a_deadline_with_an_offset_is_kept_as_that_moment(call, trader):
    client_for(trader).post(
        reverse("risk:call-deadline", args=[call.pk]),
        {"deadline": "2027-01-05T08:00:00+00:00", "reason": "x", "shown": shown_of(call)},
    )

    call.refresh_from_db()
    assert call.deadline.isoformat() == "2027-01-05T08:00:00+00:00"


def test_the_lists_say_how_fresh_the_figures_are_and_mark_them_stale(book, trader, settings):
    from datetime import timedelta

    from django.utils import timezone

    from book.models import Instrument, PendingRecompute

    client = client_for(trader)
    assert "Figures up to date" in client.get(reverse("risk:warning")).content.decode()

    instrument = Instrument.objects.get(symbol="A.HK")
    PendingRecompute.objects.create(instrument=instrument, since=timezone.now() - timedelta(seconds=30))
    html = client.get(reverse("risk:freshness")).content.decode()

    assert 'class="freshness stale"' in html
    assert "Figures 30 s behind the market (1 price waiting)" in html
    settings.FIGURES_STALE_SECONDS = 60
    assert "Figures up to date within 30 s" in client.get(reverse("risk:freshness")).content.decode()


def test_the_lists_say_when_no_price_has_come_for_a_while_in_trading(book, trader, time_machine):
    """Figures can be up to date with prices that stopped coming: while HKEX trades, a quiet feed is said."""
    from datetime import datetime, timedelta

    from django.utils import timezone

    from book.models import Instrument
    from book.trading_calendar import HONG_KONG

    client = client_for(trader)
    Instrument.objects.update(price_time=timezone.now() - timedelta(minutes=10))
    quiet = client.get(reverse("risk:freshness")).content.decode()
    assert "Figures up to date" in quiet
    assert "no price since 11:20: check the price feed" in quiet
    assert 'class="freshness stale"' in quiet

    Instrument.objects.filter(symbol="A.HK").update(price_time=timezone.now() - timedelta(minutes=1))
    assert "check the price feed" not in client.get(reverse("risk:freshness")).content.decode()

    Instrument.objects.update(price_time=timezone.now() - timedelta(days=3))
    time_machine.move_to(datetime(2026, 12, 26, 11, 0, tzinfo=HONG_KONG))  # a Saturday: no session
    assert "check the price feed" not in client.get(reverse("risk:freshness")).content.decode()


def test_a_reason_refused_for_its_characters_is_not_also_called_missing(call, trader):
    data = {"action": "mark", "reason": "a\u0000b"}
    response = client_for(trader).post(reverse("risk:call-exception", args=[call.pk]), data, follow=True)

    [message] = [str(message) for message in response.context["messages"]]
    assert message == "Reason: Contains a character that is not allowed (U+0000)."


def test_an_account_whose_number_holds_a_slash_has_its_page(import_book, trader):
    import_book(one_stock_book(account_no="X/1"))

    called = MarginCall.objects.get(account__account_no="X/1")
    html = client_for(trader).get(reverse("risk:call", args=[called.pk])).content.decode()
    page = client_for(trader).get(reverse("risk:account", args=["X/1"]))

    assert 'href="/accounts/X/1/"' in html
    assert page.status_code == 200
    assert page.context["account"].account_no == "X/1"


def test_marking_an_exception_twice_says_so_and_keeps_the_first_reason(call, trader):
    client = client_for(trader)
    url = reverse("risk:call-exception", args=[call.pk])
    client.post(url, {"action": "mark", "reason": "client disputes"}, follow=True)

    again = client.post(url, {"action": "mark", "reason": "another"}, follow=True)
    client.post(url, {"action": "unmark"}, follow=True)
    unmarked_again = client.post(url, {"action": "unmark"}, follow=True)

    assert [str(m) for m in again.context["messages"]] == ["The call is already an exception; its reason is unchanged."]
    assert [str(m) for m in unmarked_again.context["messages"]] == ["The call is not an exception."]
    call.refresh_from_db()
    assert call.status == "open"
    # each refusal is one entry in the audit log, saying why; nothing says the refused action was done
    entries = list(AuditEntry.objects.filter(action="exception").order_by("pk").values_list("outcome", flat=True))
    assert entries == ["refused: The call is already an exception; its reason is unchanged.",
                       "refused: The call is not an exception."]  # fmt: skip
    assert AuditEntry.objects.filter(action__in=["mark_exception", "unmark_exception"]).count() == 2


def test_ending_a_call_that_has_closed_is_one_refusal_in_the_audit_log(call, trader):
    url = reverse("risk:call-end", args=[call.pk])
    client_for(trader).post(url, {"reason": "client paid"})

    again = client_for(trader).post(url, {"reason": "client paid"}, follow=True)

    assert [str(m) for m in again.context["messages"]] == ["The call has closed."]
    assert list(AuditEntry.objects.filter(action="end_call").order_by("pk").values_list("outcome", flat=True)) == [
        "ok",
        "refused: The call has closed.",
    ]


def test_a_refused_deadline_or_remark_comes_back_as_typed_once(call, trader):
    client = client_for(trader)
    data = {"deadline": "2031-01-01T10:00", "reason": "client agreed", "shown": shown_of(call)}

    refused = client.post(reverse("risk:call-deadline", args=[call.pk]), data, follow=True)
    later = client.get(reverse("risk:call", args=[call.pk]))
    remark = client.post(reverse("risk:call-remark", args=[call.pk]), {"text": "x" * 2001}, follow=True)

    html = refused.content.decode()
    assert 'value="2031-01-01T10:00"' in html
    assert 'value="client agreed"' in html
    assert 'value="client agreed"' not in later.content.decode()  # once
    assert "x" * 2000 + "</textarea>" in remark.content.decode()


def test_a_snapshot_lists_its_figures_as_the_call_page_does(call, trader):
    snapshot = call.snapshots.first()

    html = client_for(trader).get(reverse("risk:snapshot", args=[call.pk, snapshot.pk])).content.decode()

    shown = re.findall(r'data-figure="(\w+)"', html)
    assert shown == [
        "total_cash",
        "long_mv",
        "short_mv",
        "equity",
        "illiquid_mv",
        "liquid_nav",
        "exposure",
        "nav_ratio",
        "im",
        "mm",
        "fm",
        "loan",
        "excess_financing",
        "margin_shortfall",
        "force_shortfall",
        "call_amount",
    ]
    assert 'data-figure="call_amount" class="key">135,400.00<' in html
    assert 'data-figure="margin_shortfall" class="neg">' in html  # a shortfall there is, in red


def test_a_snapshot_keeps_the_account_terms_its_figures_came_from(call, trader):
    """With them, the figures can be worked out again from the snapshot alone (SPEC's worked example)."""
    snapshot = call.snapshots.first()

    assert snapshot.book["terms"] == {
        "kind": "margin",
        "credit_limit": "500000.0000",
        "accrued_interest": "1200.0000",
        "debt_margin": "0.0000",
        "trading_limit": "0.0000",
        "call_coefficient": "1.0000",
    }
    html = client_for(trader).get(reverse("risk:snapshot", args=[call.pk, snapshot.pk])).content.decode()
    terms = html[html.index('data-testid="snapshot-terms"') :]
    assert "<dt>Accrued interest</dt><dd>1,200.00</dd>" in terms
    assert "<dt>Credit limit</dt><dd>500,000.00</dd>" in terms


def test_a_remark_form_sent_twice_saves_one_remark(call, trader):
    from risk.models import CallRemark

    client = client_for(trader)
    url = reverse("risk:call-remark", args=[call.pk])

    client.post(url, {"text": "client will pay tomorrow"})
    again = client.post(url, {"text": "client will pay tomorrow"}, follow=True).content.decode()

    assert CallRemark.objects.filter(call=call).count() == 1
    assert "This remark was saved a moment ago: it is not added twice." in again
    assert ">client will pay tomorrow</textarea>" not in again  # not kept to send a third time
    client.post(url, {"text": "client paid half"})  # another remark is another remark
    assert CallRemark.objects.filter(call=call).count() == 2


def test_a_deadline_moved_since_the_page_was_drawn_is_not_moved_again_unseen(call, trader):
    client = client_for(trader)
    url = reverse("risk:call-deadline", args=[call.pk])
    page = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    shown = str(int(call.deadline.timestamp()))
    assert f'name="shown" value="{shown}"' in page

    client.post(url, {"deadline": "2027-01-05T16:00", "reason": "agreed", "shown": shown})  # another trader
    stale = client.post(url, {"deadline": "2026-12-31T12:00", "reason": "mine", "shown": shown}, follow=True)

    call.refresh_from_db()
    assert timezone.localtime(call.deadline).strftime("%Y-%m-%d %H:%M") == "2027-01-05 16:00"
    assert (
        "The deadline was moved to 2027-01-05 16:00 since this page was drawn: reload the page and choose again."
        in stale.content.decode()
    )
    # A form made by hand without the deadline it saw, or with a tampered one, is out of date too.
    for seen in ({}, {"shown": "abc"}, {"shown": "-1"}, {"shown": "1099511627777"}):
        blind = client.post(url, {"deadline": "2026-12-31T12:00", "reason": "mine", **seen}, follow=True)
        assert "The form is out of date: reload the page and try again." in blind.content.decode()
        assert ": The form is out of date" not in blind.content.decode()  # no label of a field never seen
    call.refresh_from_db()
    assert timezone.localtime(call.deadline).strftime("%Y-%m-%d %H:%M") == "2027-01-05 16:00"


@pytest.mark.parametrize("value", ["0", "\u0000", "maybe", "false"])
def test_a_tick_box_filter_is_on_only_when_ticked(call, trader, value):
    """A list's box reads "on" (or 1/true) as ticked and nothing else: "?overdue=0" is not a filter on."""
    client = client_for(trader)
    ticked = client.get(reverse("risk:warning"), {"overdue": "on"})
    assert client.get(reverse("risk:warning"), {"overdue": "TRUE"}).context["form"].cleaned_data["overdue"] is True
    other = client.get(reverse("risk:warning"), {"overdue": value})

    assert ticked.context["form"].cleaned_data["overdue"] is True
    assert "overdue" not in other.context["form"].cleaned_data or other.context["form"].cleaned_data["overdue"] is False
    assert 'name="overdue" id="id_overdue" checked' in ticked.content.decode()
    assert 'name="overdue" id="id_overdue" checked' not in other.content.decode()
    if value not in ("0", "false"):  # not a box's value at all: named
        assert "Not a tick-box value" in other.content.decode()


@pytest.mark.parametrize(
    ("closed_at", "query", "shown"),
    [
        # Days are Hong Kong's: 16:00 UTC is the next day's midnight there.
        ("2026-12-22T15:59:59.999999+00:00", {"closed_from": "2026-12-23"}, False),
        ("2026-12-22T16:00:00+00:00", {"closed_from": "2026-12-23"}, True),
        ("2026-12-22T16:00:00+00:00", {"closed_to": "2026-12-22"}, False),
        ("2026-12-22T15:59:59.999999+00:00", {"closed_to": "2026-12-22"}, True),
        ("2026-12-23T15:59:59+00:00", {"closed_from": "2026-12-23", "closed_to": "2026-12-23"}, True),
        # The ends of the calendar are days too: the list is not cut, the page does not fail.
        ("2026-12-22T16:00:00+00:00", {"closed_from": "0001-01-01", "closed_to": "9999-12-31"}, True),
        ("2026-12-22T16:00:00+00:00", {"closed_from": "9999-12-31"}, False),
        ("2026-12-22T16:00:00+00:00", {"closed_to": "0001-01-01"}, False),
    ],
)
def test_history_days_are_hong_kong_days(call, trader, closed_at, query, shown):
    from risk.calls import end_call

    end_call(call.pk, user=trader, reason="paid")
    MarginCall.objects.filter(pk=call.pk).update(closed_at=datetime.fromisoformat(closed_at))
    client = client_for(trader)

    page = client.get(reverse("risk:history"), query)
    export = client.get(reverse("risk:history"), {**query, "format": "csv"})

    assert not page.context["form"].errors
    assert [row.pk for row in page.context["rows"]] == ([call.pk] if shown else [])
    assert len(export.content.decode("utf-8-sig").splitlines()) == (2 if shown else 1)  # the header and the call


def test_history_counts_its_rows_up_to_a_limit_and_says_there_are_more(call, trader, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from risk.call_views import HistoryView
    from risk.calls import end_call

    end_call(call.pk, user=trader, reason="paid")
    closed = MarginCall.objects.get(pk=call.pk)
    for _ in range(2):  # three closed calls in all
        closed.pk = None
        closed.save()
    monkeypatch.setattr(HistoryView, "count_limit", 2)
    monkeypatch.setattr(HistoryView, "page_size", 1)
    client = client_for(trader)

    def count_line(page) -> str:
        return re.search(r'data-testid="count">(.*?)</p>', page.content.decode()).group(1)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("risk:history"))
    [counted] = [q["sql"] for q in queries if "COUNT(" in q["sql"]]  # read before the next request
    html = page.content.decode()
    export = client.get(reverse("risk:history"), {"format": "csv"}).content.decode("utf-8-sig")
    past_the_end = client.get(reverse("risk:history"), {"page": "9"})

    assert (page.context["count"], page.context["count_more"], page.context["pages"]) == (2, True, 2)
    assert count_line(page) == "More than 2 closed calls"
    assert "Page 1 of 2+" in html
    assert "Showing the first 2 matches: narrow the filters to see the rest; the CSV has them all." in html
    assert "LIMIT 3" in counted  # the rows are counted up to one past the limit, not all of them
    assert "ORDER BY" not in counted  # nor sorted to be counted
    assert len(export.splitlines()) == 4  # the CSV holds every row: the header and three calls
    assert (past_the_end.status_code, past_the_end.context["page"]) == (200, 2)  # the last page counted

    monkeypatch.setattr(HistoryView, "count_limit", 3)  # exactly the limit: counted, no "more"
    page = client.get(reverse("risk:history"))
    assert (page.context["count"], page.context["count_more"]) == (3, False)
    assert count_line(page) == "3 closed calls"
    assert 'data-testid="more-rows"' not in page.content.decode()
