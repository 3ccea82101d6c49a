"""Notices in the console: the details' panel, sending a message (from the details or a batch bar), the
preview in each client's language, and the Notices page with resend."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from console.models import AuditEntry
from notices.models import Delivery, Notice
from risk.models import MarginCall
from tests.users import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(book):
    return MarginCall.objects.get(account__account_no="M100001")


def send(client, call, django_capture_on_commit_callbacks, **data):
    form = {"calls": [call.pk], "channels": ["email"], "kind": "manual", "key": "form-key-123456"}
    form.update(data)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("notices:send"), {**form, "next": reverse("risk:call", args=[call.pk])}, follow=True)


def test_a_trader_sends_a_message_from_the_details_once(call, trader, django_capture_on_commit_callbacks):
    client = client_for(trader)
    page = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="notice-form"' in page

    response = send(client, call, django_capture_on_commit_callbacks, text="Please call us about {account}.")
    again = send(client, call, django_capture_on_commit_callbacks, text="Please call us about {account}.")

    assert "1 notice queued." in response.content.decode()
    assert "This form was already sent; nothing more was queued." in again.content.decode()  # one notice
    notice = Notice.objects.get()
    assert (notice.kind, notice.created_by, notice.text) == ("manual", trader, "Please call us about {account}.")
    delivery = notice.deliveries.get()
    assert (delivery.channel, delivery.status, delivery.body) == ("email", "sent", "Please call us about M100001.")
    assert mail.outbox[0].to == ["client@example.com"]
    assert response.redirect_chain[-1][0] == reverse("risk:call", args=[call.pk])  # back on the details
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="delivery-status">Sent<' in html  # with its status
    first, second = AuditEntry.objects.filter(action="send_notice").order_by("pk")
    assert first.targets == [{"call": call.pk}]
    assert (first.outcome, second.outcome, second.detail["notices"]) == ("ok", "already sent", [])
    call.refresh_from_db()
    assert call.last_notice_status == "sent"


def test_an_unknown_placeholder_in_free_text_is_named_and_nothing_is_sent(
    call, trader, django_capture_on_commit_callbacks
):
    response = send(client_for(trader), call, django_capture_on_commit_callbacks, text="Hi {password}")

    assert "Unknown placeholder {password}" in response.content.decode()
    assert not Notice.objects.exists()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"kind": "recovery"}, "Select a valid choice. recovery is not one of the available choices."),
        ({"kind": "covered_call"}, "Select a valid choice. covered_call is not one of the available choices."),
        (
            {"text": "Buy back {quantity} {stock} by {due}"},
            "{quantity} is filled only in a notice about stock recovery",
        ),
    ],
)
def test_a_calls_notice_refuses_what_only_stock_recovery_fills(
    call, trader, django_capture_on_commit_callbacks, data, why
):
    response = send(client_for(trader), call, django_capture_on_commit_callbacks, **data)

    assert why in response.content.decode()
    assert not Notice.objects.exists()
    preview = client_for(trader).get(reverse("notices:preview"), {"calls": call.pk, "channels": "email", **data})
    assert why in preview.content.decode()


def test_the_viewer_sees_the_notices_but_cannot_send(call, viewer, django_capture_on_commit_callbacks):
    client = client_for(viewer)
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="notices-panel"' in html
    assert 'data-testid="notice-form"' not in html
    assert 'data-testid="batch-send-notice"' not in client.get(reverse("risk:warning")).content.decode()
    assert send(client, call, django_capture_on_commit_callbacks).status_code == 403
    assert not Notice.objects.exists()


def test_the_preview_shows_each_client_their_own_language(call, trader):
    other = MarginCall.objects.get(account__account_no="T2")
    response = client_for(trader).get(
        reverse("notices:preview"), {"calls": [call.pk, other.pk], "channels": ["email", "sms"], "kind": "daily"}
    )

    rows = {(row["call"].account.account_no, row["channel"]): row for row in response.context["rows"]}
    assert rows[("M100001", "email")]["language"] == "zh-hant"
    assert "M100001" in rows[("M100001", "email")]["subject"]
    assert "帳戶" in rows[("M100001", "email")]["body"]
    assert rows[("T2", "email")]["language"] == "en"
    assert rows[("T2", "sms")]["problem"] == "no address"  # T2 has no phone
    assert not Notice.objects.exists()  # a preview sends nothing
    assert "Figures in the message are filled in when it is sent" in response.content.decode()


def test_the_batch_bar_sends_to_every_selected_call(call, trader, django_capture_on_commit_callbacks):
    other = MarginCall.objects.get(account__account_no="T2")
    html = client_for(trader).get(reverse("risk:warning")).content.decode()
    assert 'data-testid="batch-send-notice"' in html

    response = send(client_for(trader), call, django_capture_on_commit_callbacks, calls=[call.pk, other.pk])

    assert "2 notices queued." in response.content.decode()
    assert sorted(Notice.objects.values_list("account__account_no", flat=True)) == ["M100001", "T2"]


def test_the_notices_page_lists_deliveries_and_resends_a_failed_one(call, trader, django_capture_on_commit_callbacks):
    other = MarginCall.objects.get(account__account_no="T2")
    send(client_for(trader), call, django_capture_on_commit_callbacks, calls=[call.pk, other.pk])
    failed = Delivery.objects.get(notice__account__account_no="T2")  # T2 has no email address
    assert (failed.status, failed.error) == ("failed", "the client has no email address")
    client = client_for(trader)

    page = client.get(reverse("notices:list"), {"status": "failed"})
    assert [d.pk for d in page.context["rows"]] == [failed.pk]
    assert 'data-testid="resend"' in page.content.decode()

    from book.models import Account

    Account.objects.filter(account_no="T2").update(email="t2@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("notices:resend"), {"deliveries": [failed.pk]}, follow=True)

    assert "1 delivery queued again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.recipient) == ("sent", "t2@example.com")
    again = client.post(reverse("notices:resend"), {"deliveries": [failed.pk]}, follow=True)  # sent now
    assert "1 had not failed: left as it is." in again.content.decode()
    assert "queued again" not in again.content.decode()  # no success beside it


def test_resending_with_a_value_that_is_no_deliverys_key_sends_nothing(
    call, trader, django_capture_on_commit_callbacks
):
    other = MarginCall.objects.get(account__account_no="T2")
    send(client_for(trader), call, django_capture_on_commit_callbacks, calls=[call.pk, other.pk])
    failed = Delivery.objects.get(notice__account__account_no="T2")

    response = client_for(trader).post(reverse("notices:resend"), {"deliveries": [failed.pk, "abc"]})

    assert response.status_code == 404
    assert Delivery.objects.get(pk=failed.pk).status == "failed"
    nothing = client_for(trader).post(reverse("notices:resend"), {"deliveries": ["", " "]}, follow=True)
    assert "Select failed deliveries to send again." in nothing.content.decode()


def test_the_lists_show_the_last_notice(call, trader, django_capture_on_commit_callbacks):
    send(client_for(trader), call, django_capture_on_commit_callbacks)
    html = client_for(trader).get(reverse("risk:warning")).content.decode()
    row = html[html.index(f'data-call="{call.pk}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="last-notice"' in row
    assert ">Sent<" in row
    import csv
    import io

    header, *rows = csv.reader(
        io.StringIO(client_for(trader).get(reverse("risk:warning"), {"format": "csv"}).content.decode("utf-8-sig"))
    )
    sent = {row[0]: row for row in rows}[call.account.account_no]
    call.refresh_from_db()
    assert sent[header.index("Last notice")] == timezone.localtime(call.last_notice_at).isoformat()
    assert sent[header.index("Last notice status")] == "Sent"


def test_an_admin_edits_a_template_with_a_preview_and_an_unknown_placeholder_is_refused(db):
    from django.contrib.auth.models import User

    from notices.models import NoticeTemplate

    admin = User.objects.create_superuser("root", password="pw")
    client = client_for(admin)
    template = NoticeTemplate.objects.get(kind="daily", channel="email", language="en")
    url = reverse("admin:notices_noticetemplate_change", args=[template.pk])

    page = client.get(url).content.decode()
    assert "Chan Tai Man" in page  # the preview, filled with sample values
    assert "<code>{call_amount}</code>" in page
    assert "<code>{stock}</code>" not in page  # filled only in a stock recovery message
    recovery = NoticeTemplate.objects.get(kind="recovery", channel="email", language="en")
    recovery_page = client.get(reverse("admin:notices_noticetemplate_change", args=[recovery.pk])).content.decode()
    assert "<code>{stock}</code>" in recovery_page
    assert "<code>{call_amount}</code>" not in recovery_page
    assert "must buy back or deliver 2,000 shares of 700.HK by 2026-12-24 16:00" in recovery_page  # its preview
    chinese = NoticeTemplate.objects.get(kind="daily", channel="email", language="zh-hant")
    chinese_page = client.get(reverse("admin:notices_noticetemplate_change", args=[chinese.pk])).content.decode()
    assert "（類型：追加保證金）" in chinese_page  # the call type in the template's language

    data = {"kind": "daily", "channel": "email", "language": "en", "subject": "Hi", "body": "Owe {secret_key}"}
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "Unknown placeholder {secret_key}" in refused.content.decode()
    template.refresh_from_db()
    assert template.body != "Owe {secret_key}"


def test_a_delivery_error_reads_in_a_traders_words_with_the_gateways_own_on_hover():
    from notices.models import Delivery
    from notices.templatetags.notices import delivery_error

    def read(error, channel="sms"):
        return delivery_error(Delivery(channel=channel, error=error))

    assert read("no sms gateway is configured (Django admin: Notice gateways)") == (
        "No SMS gateway is set up: ask a risk admin."
    )
    assert read("the client has no email address", "email") == "The client has no Email address."
    assert read("sms gateway refused it (400): bad number") == "The SMS gateway refused it (400)."
    assert read("email: [Errno 111] Connection refused (gave up after 6 attempts)", "email") == (
        "The Email gateway could not be reached. Gave up after 6 attempts."
    )
    assert read("not sent: its call closed before it went") == "Not sent: its call closed before it went."
    assert read("something new") == "something new"


def test_channels_sent_blank_or_unknown_are_named_plainly(call, trader, django_capture_on_commit_callbacks):
    client = client_for(trader)

    blank = send(client, call, django_capture_on_commit_callbacks, channels=[""]).content.decode()
    unknown = send(client, call, django_capture_on_commit_callbacks, channels=["fax\x00"], key="form-key-654321")

    assert "Channels: This field is required." in blank
    assert "Channels: Not one of the choices: fax\\x00" in unknown.content.decode()
    assert not Notice.objects.exists()


def test_the_notices_page_its_csv_and_the_call_details_read_a_fixed_number_of_queries(
    call, trader, django_capture_on_commit_callbacks
):
    from tests.queries import queries_read

    client = client_for(trader)
    pages = [
        (reverse("notices:list"), {}),
        (reverse("notices:list"), {"format": "csv"}),
        (reverse("risk:call", args=[call.pk]), {}),
    ]

    def counts():
        return queries_read(client, pages)

    def messages(first, last):
        for n in range(first, last):
            send(client, call, django_capture_on_commit_callbacks, key=f"count-key-{n:04}", channels=["email", "sms"])

    messages(0, 2)
    few = counts()
    messages(2, 12)
    many = counts()

    assert Notice.objects.filter(call=call, kind="manual").count() == 12
    assert few == many


def sent_from_template(client, on_commit, calls, kind, key, text=""):
    """The page after a trader sends these calls' clients a notice of this kind (its template, or ``text``)."""
    with on_commit(execute=True):
        return client.post(
            reverse("notices:send"),
            {"calls": [c.pk for c in calls], "channels": ["email"], "kind": kind, "key": key, "text": text},
            follow=True,
        ).content.decode()


def test_a_template_that_would_not_tell_the_truth_is_refused(call, trader, django_capture_on_commit_callbacks):
    """The force-call template says the account is at the forced-liquidation level; the liquidation one
    that orders were placed: sent where that is not so, it would tell the client something false."""
    margin_call = MarginCall.objects.get(account__account_no="T2")
    assert (call.call_type, margin_call.call_type) == ("force_call", "margin_call")
    client = client_for(trader)

    def sent(calls, kind, text="", key="misfit-key-0001"):
        return sent_from_template(client, django_capture_on_commit_callbacks, calls, kind, key, text)

    refused = sent([call, margin_call], "force_call")
    assert "The force-call template is for force calls only, and these are not: T2." in refused
    assert not Notice.objects.exists()
    preview = client.get(
        reverse("notices:preview"), {"calls": [margin_call.pk], "channels": ["email"], "kind": "force_call"}
    ).content.decode()
    assert "for force calls only" in preview
    no_orders = sent([call], "liquidation", key="misfit-key-0002")
    assert "none was placed for these calls: M100001." in no_orders
    assert not Notice.objects.exists()

    assert "1 notice queued." in sent([call], "force_call", key="misfit-key-0003")
    own = sent([margin_call], "liquidation", text="We will call you about {account}.", key="misfit-key-0004")
    assert "1 notice queued." in own  # a desk's own text is the desk's to word


def test_a_debit_call_is_sent_the_debit_template_and_only_it_is(call, trader, django_capture_on_commit_callbacks):
    """A debit call has no ratio and no position: the opening and daily texts tell of both, and the
    debit text tells a client with positions that they have none."""
    debit = MarginCall.objects.get(account__account_no="I200001")
    assert (debit.call_type, call.call_type) == ("debit", "force_call")
    client = client_for(trader)

    def sent(calls, kind, key):
        return sent_from_template(client, django_capture_on_commit_callbacks, calls, kind, key)

    for kind, key in (("trigger", "debit-key-0001"), ("daily", "debit-key-0002")):
        refused = sent([call, debit], kind, key)
        assert "these debit calls have no position: I200001. The debit template is written for them." in refused
    refused = sent([call, debit], "debit", "debit-key-0003")
    assert "for debit calls only (a debt with no position), and these are not: M100001." in refused
    assert not Notice.objects.filter(kind__in=["trigger", "daily", "debit"], created_by__isnull=False).exists()

    assert "1 notice queued." in sent([debit], "debit", "debit-key-0004")
    body = Delivery.objects.get(notice__kind="debit", notice__created_by__isnull=False).body
    assert "Your account I200001 has a debit balance and holds no positions. Please deposit HKD 5,030.00" in body


def test_the_notices_day_is_a_hong_kong_day(call, trader, django_capture_on_commit_callbacks):
    from tests.lists import check_days_are_hong_kong_days

    other = MarginCall.objects.get(account__account_no="T2")
    send(client_for(trader), call, django_capture_on_commit_callbacks, calls=[call.pk, other.pk])
    early, late = Delivery.objects.order_by("pk")

    check_days_are_hong_kong_days(client_for(trader), reverse("notices:list"), early, late, "queued_at")


def test_the_notices_page_counts_up_to_a_limit_and_says_so(
    call, trader, monkeypatch, django_capture_on_commit_callbacks
):
    from notices.views import DeliveryListView

    other = MarginCall.objects.get(account__account_no="T2")
    send(
        client_for(trader),
        call,
        django_capture_on_commit_callbacks,
        calls=[call.pk, other.pk],
        channels=["email", "sms"],
    )
    assert Delivery.objects.count() == 4
    monkeypatch.setattr(DeliveryListView, "count_limit", 2)
    monkeypatch.setattr(DeliveryListView, "page_size", 1)

    page = client_for(trader).get(reverse("notices:list"), {"page": "2"})
    html = page.content.decode()

    assert (page.context["count"], page.context["count_more"], page.context["page"]) == (2, True, 2)
    assert "Page 2 of 2+" in html
    assert "Showing the first 2 matches" in html


def test_failed_deliveries_are_counted_up_to_the_limit_and_only_for_who_may_resend(
    call, trader, viewer, monkeypatch, django_capture_on_commit_callbacks
):
    from notices.views import DeliveryListView

    other = MarginCall.objects.get(account__account_no="T2")
    send(
        client_for(trader),
        call,
        django_capture_on_commit_callbacks,
        calls=[call.pk, other.pk],
        channels=["email", "sms"],
    )
    Delivery.objects.update(status="failed", error="gateway down")
    url = reverse("notices:list")

    html = client_for(trader).get(url).content.decode()
    assert "4 failed deliveries" in html

    monkeypatch.setattr(DeliveryListView, "count_limit", 3)
    page = client_for(trader).get(url)
    assert (page.context["failed_count"], page.context["failed_more"]) == (3, True)
    assert "More than 3 failed deliveries" in page.content.decode()
    assert page.context["count_more"]  # the list's own count says so too

    monkeypatch.setattr(DeliveryListView, "count_limit", 4)  # exactly the limit: counted, no "more"
    assert "4 failed deliveries" in client_for(trader).get(url).content.decode()

    seen = client_for(viewer).get(url)
    assert "failed_count" not in seen.context
    assert "failed deliver" not in seen.content.decode()
