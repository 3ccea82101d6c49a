"""The stock-recovery pages and their actions."""

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from book.models import Instrument
from console.models import AuditEntry
from liquidation.models import Order
from recovery import services
from recovery.models import CoveredCallCase, LendingPool, ShortStockItem
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db


def short_stock_rows(client) -> dict:
    """Short Stock Recovery's rows, by account number and stock."""
    rows = client.get(reverse("recovery:short-stock")).context["rows"]
    return {(item.account.account_no, item.instrument.symbol): item for item in rows}


@pytest.fixture
def trader(recovery_book):
    return make_user("trader", "RiskWarningFull")


@pytest.fixture
def viewer(recovery_book):
    return make_user("viewer", "RiskWarningReadOnly")


def test_covered_call_recovery_follows_the_book_and_buys_back_the_short_calls(trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    client = client_for(trader)
    page = client.get(reverse("recovery:covered-calls"))
    [case] = page.context["rows"]
    assert (case.account.account_no, case.underlying.symbol) == ("A1", "700.HK")
    assert (case.rule.required, case.rule.held, case.rule.shortfall) == (300, 100, 200)

    details = client.get(reverse("recovery:covered-call", args=[case.pk]))
    assert 'data-testid="buy-back"' in details.content.decode()
    # 200 shares short: 2 of the 3 contracts of 100 cover it
    assert 'name="quantity" value="2" min="1" max="3"' in details.content.decode()
    response = client.post(
        reverse("recovery:buy-back"),
        {
            "account": "a1",  # keys in any capitals, as the book holds them
            "symbol": "tch-c400",
            "quantity": "3",
            "key": "buyback-key-123",
            "next": details.request["PATH_INFO"],
        },
        follow=True,
    )

    assert "1 order placed." in response.content.decode()
    details = client.get(reverse("recovery:covered-call", args=[case.pk])).content.decode()
    assert 'data-testid="on-order">3 on order<' in details
    assert 'data-testid="buy-back"' not in details  # all 3 are on order: nothing left to suggest or buy
    form = {"account": "A1", "symbol": "TCH-C400", "quantity": "5", "key": "buyback-key-123", "next": "/"}
    again = client.post(reverse("recovery:buy-back"), form, follow=True)  # sent twice, or with its key reused
    assert "This form was already sent: its 1 order stands; nothing more was placed." in again.content.decode()
    zero = client.post(
        reverse("recovery:buy-back"),
        {"account": "A1", "symbol": "TCH-C400", "quantity": "0", "key": "buyback-key-456", "next": "/"},
        follow=True,
    )
    assert "Quantity: Ensure this value is greater than or equal to 1." in zero.content.decode()  # names the field
    decimal = client.post(
        reverse("recovery:buy-back"),
        {"account": "A1", "symbol": "TCH-C400", "quantity": "1.0", "key": "buyback-key-789", "next": "/"},
        follow=True,
    )
    assert "Quantity: Enter a whole number." in decimal.content.decode()  # as the liquidation form refuses it
    assert AuditEntry.objects.filter(action="recover", outcome__startswith="refused: Quantity: Ensure").exists()
    order = Order.objects.get()
    assert (order.instrument.symbol, order.side, order.quantity, order.source) == ("TCH-C400", "buy", 3, "recovery")


def test_a_case_the_book_no_longer_shows_is_resolved(trader):
    from book.models import Position

    client_for(trader).get(reverse("recovery:covered-calls"))
    Position.objects.filter(account__account_no="A1", instrument__symbol="700.HK").update(quantity=300)

    assert client_for(trader).get(reverse("recovery:covered-calls")).context["rows"] == []
    assert CoveredCallCase.objects.get().resolved_at is not None


def test_a_caller_that_read_the_book_before_a_change_does_not_undo_it(trader):
    from book.models import Position

    stale = services.covered_calls_now()  # A1 short of stock, read by a page just before it arrives
    reads = [stale]

    def page_read():  # the page's first read is that one; any later read is the book's
        return reads.pop() if reads else services.covered_calls_now()

    services.follow_accounts(list(Position.objects.filter(account__account_no="A1").values_list("account", flat=True)))
    case = CoveredCallCase.objects.get(resolved_at__isnull=True)
    Position.objects.filter(account__account_no="A1", instrument__symbol="700.HK").update(quantity=300)
    assert services.follow_accounts([case.account_id]) == [case.pk]  # the stock's own follow resolves it

    assert services.sync_covered_calls(page_read, now=timezone.now()) == []  # the page, late

    assert not CoveredCallCase.objects.filter(resolved_at__isnull=True).exists()  # not opened again
    assert not reads  # it did read the stale book first, and looked again before writing


def test_short_stock_recovery_lists_the_scan_and_a_trader_marks_one_done(trader):
    services.run_scan()
    client = client_for(trader)
    page = client.get(reverse("recovery:short-stock"))
    rows = {(item.account.account_no, item.instrument.symbol): item for item in page.context["rows"]}
    assert {key: (item.quantity, item.reason) for key, item in rows.items()} == {
        ("C1", "700.HK"): (200, "account_cannot_short"),
        ("M1", "700.HK"): (100, "lending_pool"),
        ("M1", "X.HK"): (300, "not_shortable"),
    }
    assert 'data-testid="scan-time"' in page.content.decode()
    # Each row leads to its account's page: its positions, cash and calls.
    link = f'<a href="{reverse("risk:account", args=["M1"])}" data-testid="account-link">M1</a>'
    assert link in page.content.decode()

    item = rows[("M1", "X.HK")]
    client.post(reverse("recovery:short-status", args=[item.pk]), {"status": "done", "remark": "bought back"})

    item.refresh_from_db()
    assert (item.status, item.remark) == ("done", "bought back")
    assert AuditEntry.objects.filter(action="recover", outcome="ok").exists()
    services.run_scan()  # found again: it keeps its status and remark
    item.refresh_from_db()
    assert (item.status, item.resolved_at) == ("done", None)


def test_the_lending_overview_shows_the_recall_and_its_clients(trader):
    Instrument.objects.filter(symbol="700.HK").update(name="Tencent")
    services.run_scan()
    client = client_for(trader)
    page = client.get(reverse("recovery:lending"), {"stock": "700.HK"})
    [row] = page.context["rows"]
    assert (row["pool"].lendable, row["pool"].lent, row["pool"].clients, row["pool"].recall) == (300, 600, 2, 300)
    assert 'data-testid="lending-detail"' in page.content.decode()
    assert '>700.HK</a> <span class="meta">Tencent</span>' in page.content.decode()  # the stock's name beside it

    client.post(
        reverse("recovery:pool-status"), {"stock": "700.HK", "status": "close_out_warning", "remark": "PB call"}
    )
    assert LendingPool.objects.get().status == "close_out_warning"


def test_a_lending_pool_is_the_firms_so_a_one_desk_trader_cannot_set_its_status(recovery_book):
    from book.models import LendingAvailability

    one_desk = client_for(make_user("hk2", "RiskWarningFull", all_desks=False, desks=["HK2"]))
    pools = list(LendingAvailability.objects.all())
    LendingAvailability.objects.all().delete()
    # No pool listed: no note about setting one.
    assert 'data-testid="pools-firm-wide"' not in one_desk.get(reverse("recovery:lending")).content.decode()
    LendingAvailability.objects.bulk_create(pools)
    services.run_scan()
    html = one_desk.get(reverse("recovery:lending")).content.decode()
    assert 'class="inline-form status-form"' not in html
    assert 'data-testid="pools-firm-wide"' in html
    assert "Normal" in html  # the status, read only

    sent = one_desk.post(reverse("recovery:pool-status"), {"stock": "700.HK", "status": "closed"})

    assert sent.status_code == 403
    assert not LendingPool.objects.exists()
    entry = AuditEntry.objects.get(action="recover")
    assert entry.outcome == "refused: a lending pool is the firm's; the user does not see every desk"
    every_desk = client_for(make_user("all", "RiskWarningFull")).get(reverse("recovery:lending")).content.decode()
    assert 'class="inline-form status-form"' in every_desk
    assert 'data-testid="pools-firm-wide"' not in every_desk


def test_the_viewer_sees_the_pages_but_no_action(viewer):
    services.run_scan()
    client = client_for(viewer)
    for name in ("recovery:covered-calls", "recovery:short-stock", "recovery:lending"):
        html = client.get(reverse(name)).content.decode()
        assert 'data-testid="buy-to-cover"' not in html
        assert 'class="inline-form status-form"' not in html
    item = ShortStockItem.objects.first()
    assert client.post(reverse("recovery:short-status", args=[item.pk]), {"status": "done"}).status_code == 403


def test_a_message_about_stock_to_recover_goes_to_the_selected_clients(
    trader, django_capture_on_commit_callbacks, settings, tmp_path
):
    from notices.models import Notice

    settings.NOTICE_LOG_DIR = str(tmp_path)
    services.run_scan()
    client = client_for(trader)
    items = short_stock_rows(client)
    picked = items[("M1", "X.HK")]
    data = {"items": [picked.pk], "channels": ["email", "sms"], "key": "recovery-key-123"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("recovery:message"), data, follow=True)
    again = client.post(reverse("recovery:message"), data, follow=True)  # sent twice: one message

    assert "1 notice queued." in response.content.decode()
    assert "This form was already sent; nothing more was queued." in again.content.decode()
    notice = Notice.objects.get()
    assert (notice.kind, notice.call, notice.account.account_no) == ("recovery", None, "M1")
    email = notice.deliveries.get(channel="email")
    assert "300" in email.body
    assert "X.HK" in email.body
    picked.refresh_from_db()
    assert picked.status == "contacted"
    page = client.get(reverse("recovery:short-stock")).content.decode()
    row = page[page.index(f'data-item="{picked.pk}"') :]
    assert 'data-testid="message-status"' in row[: row.index("</tr>")]

    header, *rows = csv.reader(
        io.StringIO(client.get(reverse("recovery:short-stock"), {"format": "csv"}).content.decode("utf-8-sig"))
    )
    assert header[-4:] == ["Due", "Message", "Status", "Remark"]
    messages = {(row[0], row[2]): row[-3] for row in rows}
    # the account's last message, in the file too, in words as on the page
    assert messages[("M1", "X.HK")] == email.get_status_display()
    assert {row[-2] for row in rows} == {"Contacted", "Open"}
    assert messages[("C1", "700.HK")] == ""


def test_a_message_about_stock_to_recover_refuses_what_only_a_call_fills(trader):
    from notices.models import Notice

    services.run_scan()
    client = client_for(trader)
    picked = client.get(reverse("recovery:short-stock")).context["rows"][0]
    data = {"items": [picked.pk], "channels": ["email"], "key": "recovery-key-456", "text": "Pay {call_amount}"}

    response = client.post(reverse("recovery:message"), data, follow=True)

    assert "{call_amount} is filled only in a notice about a margin call" in response.content.decode()
    assert not Notice.objects.exists()


def test_a_message_from_the_covered_call_details_uses_the_shortfall(trader, django_capture_on_commit_callbacks):
    from notices.models import Notice

    client = client_for(trader)
    [case] = client.get(reverse("recovery:covered-calls")).context["rows"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("recovery:message"),
            {
                "cases": [case.pk],
                "channels": ["email"],
                "key": "recovery-key-456",
                "text": "Deliver {quantity} {stock}",
            },
        )

    delivery = Notice.objects.get().deliveries.get()
    assert delivery.body == "Deliver 200 700.HK"


def test_a_covered_call_message_has_its_own_kind_and_wording(trader, django_capture_on_commit_callbacks):
    """Shares missing under sold calls are to deliver or buy, not to buy back: the covered-call
    template says so, and its message is not counted as a short-stock one."""
    from notices.models import Notice

    services.run_scan()
    client = client_for(trader)
    [case] = client.get(reverse("recovery:covered-calls")).context["rows"]
    items = short_stock_rows(client)
    item = items[("M1", "X.HK")]
    assert item.account_id != case.account_id
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("recovery:message"),
            {"cases": [case.pk], "items": [item.pk], "channels": ["email"], "key": "recovery-key-789"},
        )

    notices = {notice.account_id: notice for notice in Notice.objects.all()}
    covered, short = notices[case.account_id], notices[item.account_id]
    assert (covered.kind, covered.stock, short.kind) == ("covered_call", "700.HK", "recovery")
    body = covered.deliveries.get().body
    assert "call options on 700.HK" in body
    assert "200 shares of 700.HK are missing" in body
    assert "buy back" not in body
    assert "must buy back or deliver 300 shares of X.HK" in short.deliveries.get().body
    # Short Stock Recovery's message column counts only short-stock messages.
    statuses = {
        (i.account_id, i.instrument.symbol): i.message_status
        for i in client.get(reverse("recovery:short-stock")).context["rows"]
    }
    assert statuses[(item.account_id, "X.HK")]
    assert not statuses.get((case.account_id, "700.HK"))
    # Covered Call Recovery has its own: on the row, in its file, and each message on the case's page.
    [row] = client.get(reverse("recovery:covered-calls")).context["rows"]
    assert row.message_status == covered.deliveries.get().status
    header, *lines = csv.reader(
        io.StringIO(client.get(reverse("recovery:covered-calls"), {"format": "csv"}).content.decode("utf-8-sig"))
    )
    assert lines[0][header.index("Message")] == covered.deliveries.get().get_status_display()
    details = client.get(reverse("recovery:covered-call", args=[case.pk]))
    assert [n.pk for n in details.context["messages_sent"]] == [covered.pk]
    assert f'data-notice="{covered.pk}"' in details.content.decode()


def test_the_lending_details_buy_to_cover_and_message_their_clients(trader):
    services.run_scan()
    html = client_for(trader).get(reverse("recovery:lending"), {"stock": "700.HK"}).content.decode()
    detail = html[html.index('data-testid="lending-detail"') :]
    assert detail.count('data-testid="buy-to-cover"') == 2  # C1 and M1
    assert re.search(r'data-testid="lending-as-of">Lending as reported (at|from) \d{4}-\d\d-\d\d \d\d:\d\d', html)
    assert 'data-testid="recovery-message"' in detail


def test_a_message_names_one_stock_of_an_account_and_leaves_its_other_rows_as_they_are(
    trader, django_capture_on_commit_callbacks
):
    from notices.models import Notice

    services.run_scan()
    client = client_for(trader)
    both = ShortStockItem.objects.filter(account__account_no="M1")  # 700.HK and X.HK
    data = {"items": [item.pk for item in both], "channels": ["email"], "key": "recovery-key-789"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("recovery:message"), data, follow=True)

    html = response.content.decode()
    assert "1 notice queued." in html
    # An account's rows by stock: 700.HK is named, X.HK left for another message, and said so by name.
    assert "Left out, as a message names one stock of an account: M1 X.HK. Send another message for it." in html
    body = Notice.objects.get().deliveries.get().body
    assert "700.HK" in body
    assert "X.HK" not in body
    assert {item.instrument.symbol: item.status for item in both.all()} == {"700.HK": "contacted", "X.HK": "open"}
    assert Notice.objects.get().stock == "700.HK"
    listed = {
        item.instrument.symbol: item.message_status
        for item in client.get(reverse("recovery:short-stock")).context["rows"]
        if item.account.account_no == "M1"
    }
    assert listed["700.HK"]  # the message's status on the row of the stock it named, not on the other's
    assert listed["X.HK"] == ""
    Notice.objects.update(stock="")  # a message sent before messages kept their stock: all the rows
    listed = {
        item.instrument.symbol: item.message_status
        for item in client.get(reverse("recovery:short-stock")).context["rows"]
        if item.account.account_no == "M1"
    }
    assert listed["X.HK"] == listed["700.HK"] != ""
    again = client.post(reverse("recovery:message"), {**data, "items": [both.get(instrument__symbol="X.HK").pk]})
    assert again.status_code == 302
    assert both.get(instrument__symbol="X.HK").status == "open"  # the form's key sent before: nothing new


def test_a_resolved_case_keeps_its_status_and_is_sent_no_message(trader):
    from book.models import Position
    from notices.models import Notice

    client = client_for(trader)
    [case] = client.get(reverse("recovery:covered-calls")).context["rows"]
    Position.objects.filter(account__account_no="A1", instrument__symbol="700.HK").update(quantity=300)
    client.get(reverse("recovery:covered-calls"))  # resolves it
    case.refresh_from_db()
    assert case.resolved_at is not None

    status = client.post(
        reverse("recovery:case-status", args=[case.pk]), {"status": "exception", "remark": "late"}, follow=True
    )
    message = client.post(
        reverse("recovery:message"), {"cases": [case.pk], "channels": ["sms"], "key": "recovery-key-999"}, follow=True
    )
    details = client.get(reverse("recovery:covered-call", args=[case.pk])).content.decode()

    assert "This was resolved: the book no longer shows it. Its status is kept." in status.content.decode()
    case.refresh_from_db()
    assert (case.status, case.remark) == ("open", "")
    assert AuditEntry.objects.filter(action="recover", outcome__startswith="refused: This was resolved").exists()
    assert "What was selected has been resolved: no message was sent." in message.content.decode()
    assert not Notice.objects.exists()
    assert 'data-testid="resolved"' in details
    assert 'name="status"' not in details  # nothing left to set
    assert 'data-testid="buy-back"' not in details


def test_a_message_about_a_row_that_is_not_there_is_refused_whole(trader):
    from notices.models import Notice

    services.run_scan()
    item = ShortStockItem.objects.first()
    client = client_for(trader)

    missing = client.post(
        reverse("recovery:message"), {"items": [item.pk, 999999], "channels": ["sms"], "key": "recovery-key-000"}
    )
    forged = client.post(
        reverse("recovery:message"), {"items": ["-1"], "channels": ["sms"], "key": "recovery-key-001"}, follow=True
    )

    assert missing.status_code == 404
    assert "Selected: -1 is not the id of a row." in forged.content.decode()
    assert not Notice.objects.exists()


def test_short_stock_rows_show_what_is_on_order_and_what_the_book_covers_since_the_scan(trader, settings):
    from book.models import Position

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # orders stay working
    services.run_scan()
    client = client_for(trader)
    item = ShortStockItem.objects.get(account__account_no="M1", instrument__symbol="X.HK")  # 300 short
    client.post(
        reverse("recovery:buy-back"), {"account": "M1", "symbol": "X.HK", "quantity": "100", "key": "buy-key-0001"}
    )

    def row(item):
        html = client.get(reverse("recovery:short-stock")).content.decode()
        start = html.index(f'data-item="{item.pk}"')
        return html[start : html.index("</tr>", start)]

    working = row(item)
    assert "100 on order" in working
    assert 'name="quantity" value="200" min="1" max="200"' in working  # what is still free to buy
    Position.objects.filter(account__account_no="M1", instrument__symbol="X.HK").update(quantity=0)
    covered = row(item)
    assert 'data-testid="covered-now"' in covered
    assert 'data-testid="buy-to-cover"' not in covered
    assert 'data-testid="short-now">now 0<' in covered
    assert 'data-testid="cancel-orders"' in covered  # its working buy would now make it long
    # Sent again after the book covered it: the form was sent before, not a stock that is not short.
    again = client.post(
        reverse("recovery:buy-back"),
        {"account": "M1", "symbol": "X.HK", "quantity": "100", "key": "buy-key-0001"},
        follow=True,
    )
    assert "This form was already sent: its 1 order stands; nothing more was placed." in again.content.decode()


def test_a_lending_pool_row_offers_only_its_share_of_the_recall_not_yet_on_order(trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"
    services.run_scan()
    client = client_for(trader)
    item = ShortStockItem.objects.get(account__account_no="M1", instrument__symbol="700.HK")
    assert (item.short_quantity, item.quantity) == (400, 100)  # short 400; its share of the recall 100

    client.post(
        reverse("recovery:buy-back"), {"account": "M1", "symbol": "700.HK", "quantity": "100", "key": "buy-key-0002"}
    )
    html = client.get(reverse("recovery:short-stock")).content.decode()
    start = html.index(f'data-item="{item.pk}"')
    row = html[start : html.index("</tr>", start)]

    assert "100 on order" in row
    assert 'name="quantity" value="" min="1" max="300"' in row  # its share is on order: nothing suggested


def test_a_short_covered_in_part_since_the_scan_is_offered_in_whole_lots(trader):
    from book.models import Position

    services.run_scan()
    item = ShortStockItem.objects.get(account__account_no="M1", instrument__symbol="700.HK")
    assert (item.short_quantity, item.quantity) == (400, 100)
    Position.objects.filter(account__account_no="M1", instrument__symbol="700.HK").update(quantity=-350)

    html = client_for(trader).get(reverse("recovery:short-stock")).content.decode()
    start = html.index(f'data-item="{item.pk}"')
    row = html[start : html.index("</tr>", start)]

    assert 'name="quantity" value="100" min="1" max="350"' in row  # 50 still to recover: a lot of 100


def test_the_lending_details_say_how_many_clients_short_are_on_desks_not_seen(trader):
    services.run_scan()
    hk1 = client_for(make_user("hk1trader", "RiskWarningFull", all_desks=False, desks=["HK1"]))

    desk = hk1.get(reverse("recovery:lending"), {"stock": "700.HK"}).content.decode()
    every = client_for(trader).get(reverse("recovery:lending"), {"stock": "700.HK"}).content.decode()

    assert "1 more client short this stock is on a desk you do not see." in desk  # M1, on HK2
    assert 'data-account="M1"' not in desk
    assert 'data-testid="clients-elsewhere"' not in every


def test_the_recovery_lists_export_their_rows_as_csv_for_the_users_desks(trader):

    services.run_scan()
    client = client_for(trader)
    client.get(reverse("recovery:covered-calls"))  # opens the case

    def rows(client, name, **query):
        response = client.get(reverse(name), {"format": "csv", **query})
        assert response["Content-Type"].startswith("text/csv")
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))

    header, *cases = rows(client, "recovery:covered-calls")
    assert header[:7] == ["Account", "Name", "Underlying", "Short calls", "Shares needed", "Shares held", "Shortfall"]
    [case] = cases
    assert case[0] == "A1"
    assert (case[2], case[3], case[4], case[5], case[6]) == ("700.HK", "TCH-C400 x3", "300", "100", "200")
    header, *items = rows(client, "recovery:short-stock")
    assert header[3:8] == ["Short quantity", "To recover", "Short now", "On order", "Still to buy"]
    assert {(item[0], item[2], item[4], item[7], item[8]) for item in items} == {
        ("C1", "700.HK", "200", "200", "The account may not sell short"),
        ("M1", "700.HK", "100", "100", "The lending pool is under water"),
        ("M1", "X.HK", "300", "300", "The stock may not be sold short"),
    }
    assert [item[0] for item in rows(client, "recovery:short-stock", q="C")[1:]] == ["C1"]  # the filters hold
    hk1 = client_for(make_user("hk1trader", "RiskWarningFull", all_desks=False, desks=["HK1"]))
    assert {item[0] for item in rows(hk1, "recovery:short-stock")[1:]} == {"C1"}  # M1 is on HK2
    hk2 = client_for(make_user("hk2trader", "RiskWarningFull", all_desks=False, desks=["HK2"]))
    assert rows(hk2, "recovery:covered-calls")[1:] == []  # A1 is on HK1


def test_a_refusal_that_quotes_a_long_value_is_audited_cut_to_the_logs_length(trader):
    services.run_scan()
    item = ShortStockItem.objects.first()

    response = client_for(trader).post(
        reverse("recovery:short-status", args=[item.pk]), {"status": "nonsense-" + "x" * 400, "remark": ""}
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.filter(action="recover").latest("pk")
    assert entry.outcome.startswith("refused: Status: Select a valid choice.")
    assert len(entry.outcome) <= 200


def test_a_buy_back_suggested_counts_what_is_already_on_order():
    from types import SimpleNamespace

    from recovery.views import suggest_buy_backs

    option = SimpleNamespace(option_type="call", lot_size=1, multiplier=100)
    short = SimpleNamespace(account_id=1, instrument_id=7, quantity=-5, instrument=option)
    stock = SimpleNamespace(account_id=1, instrument_id=8, quantity=100, instrument=SimpleNamespace(option_type=""))

    suggest_buy_backs([short, stock], 300, {(1, 7): 1})  # 300 shares short; 1 contract already bought back

    assert (short.on_order, short.free, short.buy_back) == (1, 4, 2)
    assert stock.buy_back == 0


def test_a_short_call_past_its_expiry_day_is_no_longer_a_covered_call_shortfall(recovery_book):
    import datetime as dt

    assert [item.account_no for item in services.covered_calls_now()] == ["A1"]
    Instrument.objects.filter(symbol="TCH-C400").update(expiry=dt.date(2026, 12, 22))  # the day before today's

    assert services.covered_calls_now() == []


def test_a_message_asks_for_what_is_still_to_recover_and_none_once_covered(
    trader, django_capture_on_commit_callbacks, settings
):
    from book.models import Position
    from notices.models import Notice

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the buy-back stays working
    services.run_scan()
    client = client_for(trader)
    item = ShortStockItem.objects.get(account__account_no="M1", instrument__symbol="X.HK")
    assert item.quantity == 300
    short = Position.objects.get(account__account_no="M1", instrument__symbol="X.HK")
    Position.objects.filter(pk=short.pk).update(quantity=short.quantity + 100)  # 100 bought back since the scan

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("recovery:message"), {"items": [item.pk], "channels": ["email"], "key": "recovery-key-a1"})
    body = Notice.objects.get().deliveries.get().body
    assert "must buy back or deliver 200 shares of X.HK" in body

    # The rest on order for the client, or covered: nothing to ask, and no message.
    client.post(
        reverse("recovery:buy-back"), {"account": "M1", "symbol": "X.HK", "quantity": "200", "key": "bb-key-a1"}
    )
    assert Order.objects.filter(account__account_no="M1", instrument__symbol="X.HK").count() == 1
    response = client.post(
        reverse("recovery:message"), {"items": [item.pk], "channels": ["email"], "key": "recovery-key-a2"}, follow=True
    )
    assert (
        "Nothing is left to recover (covered, or all of it on order), so no message: M1 X.HK."
        in response.content.decode()
    )
    assert Notice.objects.count() == 1


def test_the_lending_details_offer_what_is_still_to_buy_back_as_the_book_is_now(trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the buy-backs stay working
    services.run_scan()
    client = client_for(trader)

    def rows():
        html = client.get(reverse("recovery:lending"), {"stock": "700.HK"}).content.decode()
        detail = html[html.index('data-testid="lending-detail"') :]
        found = {}
        for account in ("C1", "M1"):
            row = detail[detail.index(f'<tr data-account="{account}">') :]
            found[account] = row[: row.index("</tr>")]
        return found

    before = rows()
    # C1 is a cash account: all its 200 short goes; M1's 400 carries the rest of the recall, 100.
    assert 'data-testid="to-buy">200<' in before["C1"]
    assert 'name="quantity" value="200" min="1" max="200"' in before["C1"]
    assert 'data-testid="to-buy">100<' in before["M1"]
    assert 'name="quantity" value="100" min="1" max="400"' in before["M1"]

    client.post(
        reverse("recovery:buy-back"), {"account": "C1", "symbol": "700.HK", "quantity": "100", "key": "buyback-c1-1"}
    )
    client.post(
        reverse("recovery:buy-back"), {"account": "M1", "symbol": "700.HK", "quantity": "100", "key": "buyback-m1-1"}
    )
    after = rows()

    assert 'data-testid="on-order">100 on order<' in after["C1"]
    assert 'data-testid="to-buy">100<' in after["C1"]
    assert 'name="quantity" value="100" min="1" max="100"' in after["C1"]
    # M1's part is on order: nothing is prefilled, and at most its free 300 may be bought.
    assert 'data-testid="to-buy">0<' in after["M1"]
    assert 'name="quantity" value="" min="1" max="300"' in after["M1"]


@pytest.mark.postgres  # where a read can lock rows (FOR UPDATE)
def test_reading_covered_call_recovery_locks_and_writes_nothing_while_the_cases_match_the_book(trader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from book.models import Position

    client = client_for(trader)
    client.get(reverse("recovery:covered-calls"))  # the case opens
    with CaptureQueriesContext(connection) as steady:
        client.get(reverse("recovery:covered-calls"))
    case_writes = [
        q["sql"]
        for q in steady.captured_queries
        if "recovery_coveredcallcase" in q["sql"] and ("FOR UPDATE" in q["sql"] or not q["sql"].startswith("SELECT"))
    ]
    assert case_writes == []

    # The book moved outside any recompute's reach: the page's read brings the cases in line.
    Position.objects.filter(account__account_no="A1", instrument__symbol="700.HK").update(quantity=300)
    client.get(reverse("recovery:covered-calls"))
    assert CoveredCallCase.objects.get().resolved_at is not None


def test_the_recovery_lists_sort_by_their_column_headers_and_keep_the_sort_through_the_filters(trader):
    services.run_scan()
    client = client_for(trader)

    def order(sort):
        page = client.get(reverse("recovery:short-stock"), {"sort": sort})
        return [(row.account.account_no, row.instrument.symbol) for row in page.context["rows"]], page

    by_stock, page = order("symbol")
    html = page.content.decode()
    assert [symbol for _, symbol in by_stock] == sorted(symbol for _, symbol in by_stock)
    for key in ("account", "symbol", "short", "quantity", "detected", "due"):
        assert f"sort={key}" in html or f"sort=-{key}" in html
    assert '<input type="hidden" name="sort" value="symbol">' in html
    assert "sort=-quantity" in html  # the header's first click: the most to recover first
    most, _ = order("-quantity")
    quantities = {
        (item.account.account_no, item.instrument.symbol): item.quantity for item in ShortStockItem.objects.all()
    }
    assert [quantities[key] for key in most] == sorted(quantities.values(), reverse=True)
    least, _ = order("quantity")
    assert [quantities[key] for key in least] == sorted(quantities.values())
    assert "detected 20" in html  # each row says when its item was detected

    cases = client.get(reverse("recovery:covered-calls"), {"sort": "-underlying"})
    assert cases.status_code == 200
    assert "sort=-detected" in cases.content.decode()  # the newest first
    assert client.get(reverse("recovery:short-stock"), {"sort": "nonsense"}).status_code == 200


def test_a_failed_recovery_message_is_not_sent_again_once_its_stock_is_no_longer_to_recover(
    trader, django_capture_on_commit_callbacks
):
    from notices.models import Delivery

    services.run_scan()
    client = client_for(trader)
    items = short_stock_rows(client)
    item = items[("M1", "X.HK")]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("recovery:message"), {"items": [item.pk], "channels": ["sms"], "key": "recovery-key-321"})
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", error="gateway down")

    still_short = client.post(reverse("notices:resend"), {"deliveries": [delivery.pk]}, follow=True)
    assert "1 delivery queued again." in still_short.content.decode()

    Delivery.objects.filter(pk=delivery.pk).update(status="failed", error="gateway down")
    ShortStockItem.objects.filter(pk=item.pk).update(resolved_at=timezone.now())
    covered = client.post(reverse("notices:resend"), {"deliveries": [delivery.pk]}, follow=True)

    assert "1 asks for stock that is no longer to recover: not sent again." in covered.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_the_recovery_pages_read_a_fixed_number_of_queries_however_many_rows(
    trader, import_book, django_capture_on_commit_callbacks
):
    from tests.queries import queries_read

    client = client_for(trader)
    pages = [
        (reverse("recovery:covered-calls"), {}),
        (reverse("recovery:covered-calls"), {"format": "csv"}),
        (reverse("recovery:short-stock"), {}),
        (reverse("recovery:short-stock"), {"format": "csv"}),
        (reverse("recovery:lending"), {"stock": "700.HK"}),
    ]

    def counts():
        services.run_scan()
        return queries_read(client, pages)  # the first reading settles the cases too

    def message_everyone():
        services.run_scan()
        items = client.get(reverse("recovery:short-stock")).context["rows"]
        cases = client.get(reverse("recovery:covered-calls")).context["rows"]
        with django_capture_on_commit_callbacks(execute=True):
            for n, row in enumerate([*items, *cases]):
                field = "items" if isinstance(row, ShortStockItem) else "cases"
                client.post(
                    reverse("recovery:message"), {field: [row.pk], "channels": ["sms"], "key": f"count-key-{n:04}"}
                )

    message_everyone()
    few = counts()
    import_book(
        {
            "as_of": "2026-12-23T10:05:00+08:00",
            "accounts": [
                {"account_no": f"N{n}", "desk": "HK1", "cash": {"HKD": "900000"},
                 "positions": [{"symbol": "TCH-C400", "quantity": -2}, {"symbol": "700.HK", "quantity": -100 * n}]}
                for n in range(1, 9)
            ],
        }
    )  # fmt: skip
    message_everyone()
    many = counts()

    assert len(client.get(reverse("recovery:short-stock")).context["rows"]) >= 10
    assert few == many


def test_a_covered_call_message_is_settled_by_its_case_not_by_a_short_in_the_same_stock(trader):
    """M1 is short 700.HK (an open short-stock item) but has no covered-call case on it: a failed
    covered-call message about 700.HK is not sent again; a short-stock one about it still may be."""
    from notices.models import Delivery, Notice

    services.run_scan()
    assert ShortStockItem.objects.filter(account__account_no="M1", instrument__symbol="700.HK").exists()
    account = ShortStockItem.objects.filter(account__account_no="M1").first().account
    now = timezone.now()
    failed = {}
    for kind in ("covered_call", "recovery"):
        notice = Notice.objects.create(
            account=account, kind=kind, key=f"account:k-{kind}", stock="700.HK", created_at=now
        )
        failed[kind] = Delivery.objects.create(
            notice=notice, channel="sms", recipient="+85291234567", status="failed", queued_at=now, updated_at=now
        )

    client = client_for(trader)
    covered = client.post(reverse("notices:resend"), {"deliveries": [failed["covered_call"].pk]}, follow=True)
    short = client.post(reverse("notices:resend"), {"deliveries": [failed["recovery"].pk]}, follow=True)

    assert "1 asks for stock that is no longer to recover: not sent again." in covered.content.decode()
    assert "1 delivery queued again." in short.content.decode()


def test_a_short_stock_item_has_a_page_of_its_own(trader, viewer, settings, django_capture_on_commit_callbacks):
    """The scan's figures and the book now, the stock's lending pool, the messages sent about it; from
    it a trader buys to cover, sends a message and sets the status. A viewer reads it; another desk's
    trader does not find it."""
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # orders stay working
    services.run_scan()
    client = client_for(trader)
    item = short_stock_rows(client)[("M1", "700.HK")]
    page_url = reverse("recovery:short-item", args=[item.pk])
    listed = client.get(reverse("recovery:short-stock")).content.decode()
    assert f'<a href="{page_url}" data-testid="item-link">700.HK</a>' in listed

    page = client.get(page_url)
    html = page.content.decode()
    shown = page.context["item"]
    assert (shown.short_quantity, shown.quantity, shown.short_now, shown.on_order, shown.to_buy) == (
        400,
        100,
        400,
        0,
        100,
    )
    pool = page.context["pool"]
    assert (pool.lendable, pool.lent, pool.clients, pool.recall) == (300, 600, 2, 300)
    assert "The lending pool is under water" in html
    assert 'name="quantity" value="100" min="1" max="400"' in html
    assert f'<input type="hidden" name="items" value="{item.pk}">' in html
    assert "data-needs-pick" not in html

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            reverse("recovery:message"),
            {"items": [item.pk], "channels": ["email"], "key": "item-page-key-1", "next": page_url},
            follow=True,
        )
    assert sent.request["PATH_INFO"] == page_url
    assert len(sent.context["messages_sent"]) == 1
    bought = client.post(
        reverse("recovery:buy-back"),
        {"account": "M1", "symbol": "700.HK", "quantity": "100", "key": "item-page-key-2", "next": page_url},
        follow=True,
    )
    assert "1 order placed." in bought.content.decode()
    assert (bought.context["item"].on_order, bought.context["item"].to_buy) == (100, 0)
    client.post(
        reverse("recovery:short-status", args=[item.pk]), {"status": "contacted", "remark": "called", "next": page_url}
    )
    assert "Contacted · called" in client.get(page_url).content.decode()

    read_only = client_for(viewer).get(page_url).content.decode()
    assert "The lending pool is under water" in read_only
    for form in ('data-testid="buy-to-cover"', 'data-testid="recovery-message"', "status-form"):
        assert form not in read_only
    hk1 = client_for(make_user("hk1only", "RiskWarningFull", all_desks=False, desks=["HK1"]))
    assert hk1.get(page_url).status_code == 404  # M1 is HK2's
    assert hk1.get(reverse("recovery:short-item", args=[999999])).status_code == 404


def test_a_resolved_short_stock_item_keeps_its_page_and_links_the_open_one(trader):
    from book.models import Position

    services.run_scan()
    client = client_for(trader)
    item = short_stock_rows(client)[("M1", "X.HK")]
    Position.objects.filter(account__account_no="M1", instrument__symbol="X.HK").update(quantity=0)
    services.run_scan()
    page_url = reverse("recovery:short-item", args=[item.pk])

    resolved = client.get(page_url).content.decode()
    assert 'data-testid="resolved"' in resolved
    assert 'data-testid="reopened"' not in resolved
    assert 'data-testid="recovery-message"' not in resolved
    assert "status-form" not in resolved

    Position.objects.filter(account__account_no="M1", instrument__symbol="X.HK").update(quantity=-300)
    services.run_scan()
    again = short_stock_rows(client)[("M1", "X.HK")]
    assert again.pk != item.pk
    assert (
        f'href="{reverse("recovery:short-item", args=[again.pk])}" data-testid="reopened"'
        in client.get(page_url).content.decode()
    )
