"""Notices: the system's (trigger, force call, daily), their deliveries through email and the HTTP
gateways with retries, templates and placeholders, what gateways report back, and the commands."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from book.models import Account
from notices import services, tasks
from notices.models import Delivery, Notice, NoticeKind, NoticeTemplate
from notices.placeholders import TemplateError, check, fill
from notices.templatetags.notices import delivery_error
from risk.models import MarginCall
from tests.books import one_stock_book

pytestmark = pytest.mark.django_db


def at(text):
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def called(import_book, worked_book, django_capture_on_commit_callbacks, gateway):
    """The worked example imported as a feed would: its call opens and the trigger notice goes out."""
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)  # M100001 (zh-hant), called at 10:00 on Wednesday 23 December
    return MarginCall.objects.get(account__account_no="M100001")


def daily(now, django_capture_on_commit_callbacks, account_no="M100001"):
    """The daily job at ``now``: the notices it wrote for this account."""
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at(now), tick=False):
        written = services.daily_notices(at(now))
    return [notice for notice in written if notice.account.account_no == account_no]


def m1(channel):
    return Delivery.objects.get(channel=channel, notice__account__account_no="M100001")


def m1_notices():
    return Notice.objects.filter(account__account_no="M100001").order_by("pk")


# --- the system's notices --------------------------------------------------------------------------


def test_a_call_that_opens_gets_its_trigger_notice_by_email_and_sms(called, gateway):
    [notice] = m1_notices()
    assert (notice.kind, notice.key, notice.day) == ("trigger", "trigger", dt.date(2026, 12, 23))
    deliveries = {d.channel: d for d in notice.deliveries.all()}
    assert set(deliveries) == {"email", "sms"}  # the rule set's default channels
    assert {d.status for d in deliveries.values()} == {"sent"}
    assert deliveries["email"].language == "zh-hant"  # the client's language picks the template
    assert "M100001" in deliveries["email"].subject
    [email] = [email for email in mail.outbox if email.to == ["client@example.com"]]
    assert "135,400.00" in email.body
    [request] = [r for r in gateway.received if r["json"]["account_no"] == "M100001"]
    assert request["auth"] == "Bearer gw-secret"
    assert request["json"]["to"] == "+85291234567"
    assert request["json"]["id"] == deliveries["sms"].pk
    assert set(request["json"]) == {"id", "channel", "to", "language", "text", "account_no", "kind", "status_url"}
    kinds = set(called.snapshots.values_list("kind", flat=True))
    assert {"notice_email", "notice_sms"} <= kinds  # a snapshot at every notice, named by channel
    called.refresh_from_db()
    assert (called.last_notice_status, called.last_notice_at) == ("sent", notice.created_at)


def test_the_daily_job_twice_sends_one_notice_per_call_per_trading_day(called, django_capture_on_commit_callbacks):
    # The trigger notice counts as Wednesday's: nothing more that day.
    assert daily("2026-12-23T17:30:00+08:00", django_capture_on_commit_callbacks) == []
    first = daily("2026-12-24T17:00:00+08:00", django_capture_on_commit_callbacks)  # Christmas Eve: a session
    again = daily("2026-12-24T17:30:00+08:00", django_capture_on_commit_callbacks)

    assert len(first) == 1
    assert again == []
    assert list(m1_notices().values_list("kind", "day")) == [
        ("trigger", dt.date(2026, 12, 23)),
        ("daily", dt.date(2026, 12, 24)),
    ]


def test_the_database_refuses_a_second_notice_for_a_call_and_day(called):
    notice = m1_notices().get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(call=called, account=called.account, kind="daily", key="daily:x", day=notice.day)


@pytest.mark.parametrize(
    ("now", "why"),
    [
        ("2026-12-24T16:59:00+08:00", "before the rule set's notice time"),
        ("2026-12-25T17:30:00+08:00", "Christmas Day: no XHKG session"),
        ("2026-12-29T16:00:01+08:00", "past the deadline"),
    ],
)
def test_no_daily_notice(called, django_capture_on_commit_callbacks, now, why):
    assert daily(now, django_capture_on_commit_callbacks) == [], why


def test_an_exception_gets_no_daily_notice(called, trader, django_capture_on_commit_callbacks):
    from risk import calls

    calls.mark_exception([called.pk], reason="disputed", user=trader)
    assert daily("2026-12-24T17:00:00+08:00", django_capture_on_commit_callbacks) == []


def test_a_trigger_on_a_non_trading_day_counts_for_the_next_session(import_book, django_capture_on_commit_callbacks):
    with time_machine.travel(at("2026-12-26T10:00:00+08:00"), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            import_book(one_stock_book(as_of="2026-12-26T10:00:00+08:00"))  # Boxing Day, a Saturday
        assert Notice.objects.get().day == dt.date(2026, 12, 28)  # Monday
    assert daily("2026-12-28T17:00:00+08:00", django_capture_on_commit_callbacks) == []


def test_a_flapping_call_keeps_its_single_trigger_notice(import_book, django_capture_on_commit_callbacks):
    from book import ticks

    with django_capture_on_commit_callbacks(execute=True):
        import_book(one_stock_book())
    for price, time in (("120", "11:00"), ("95", "11:10"), ("120", "11:20"), ("95", "11:25")):
        moment = f"2026-12-23T{time}:00+08:00"
        with (
            time_machine.travel(at(moment) + dt.timedelta(seconds=1), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            ticks.apply_and_recompute([{"symbol": "S.HK", "price": price, "time": moment}])

    [call] = MarginCall.objects.all()
    assert call.reopened_count == 2
    # One trigger notice; back at 95 it is a force call, told once that trading day.
    assert list(Notice.objects.order_by("pk").values_list("kind", flat=True)) == ["trigger", "force_call"]


def test_an_escalation_to_force_call_sends_its_notice(import_book, django_capture_on_commit_callbacks):
    from book import ticks

    with django_capture_on_commit_callbacks(execute=True):
        import_book(one_stock_book(price="100"))  # a margin call
    assert MarginCall.objects.get().call_type == "margin_call"
    moment = "2026-12-23T11:00:00+08:00"
    with (
        time_machine.travel(at(moment) + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": moment}])

    assert MarginCall.objects.get().call_type == "force_call"
    assert list(Notice.objects.order_by("pk").values_list("kind", flat=True)) == ["trigger", "force_call"]


@pytest.mark.parametrize("state", ["past_deadline", "exception"])
def test_a_force_call_past_its_deadline_or_marked_exception_is_not_told(
    import_book, django_capture_on_commit_callbacks, state
):
    from book import ticks

    with django_capture_on_commit_callbacks(execute=True):
        import_book(one_stock_book(price="100"))  # a margin call
    call = MarginCall.objects.get()
    moment = "2026-12-23T11:00:00+08:00"
    if state == "past_deadline":
        MarginCall.objects.filter(pk=call.pk).update(deadline=at(moment) - dt.timedelta(minutes=1))
    else:
        MarginCall.objects.filter(pk=call.pk).update(status="exception", exception_reason="agreed")
    with (
        time_machine.travel(at(moment) + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": moment}])

    assert MarginCall.objects.get().call_type == "force_call"
    assert list(Notice.objects.values_list("kind", flat=True)) == ["trigger"]


# --- delivering ------------------------------------------------------------------------------------


def test_a_task_delivered_twice_sends_once(called, gateway):
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued")  # as if its task had not run yet
    before = len(gateway.received)

    tasks.deliver.delay(delivery.pk)
    tasks.deliver.delay(delivery.pk)  # the broker delivers it again

    assert len(gateway.received) == before + 1
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"


def attempts_after(delivery, seconds: float, time_machine) -> tuple[str, int]:
    """The sweep (beat's, every minute) run ``seconds`` later: the delivery's status and tries then."""
    time_machine.shift(seconds)
    tasks.sweep_deliveries()
    delivery.refresh_from_db()
    return delivery.status, delivery.attempts


def test_a_timeout_is_retried_after_a_growing_wait_then_fails_and_is_logged(
    called, gateway, settings, caplog, time_machine
):
    settings.NOTICE_MAX_RETRIES = 2
    settings.NOTICE_RETRY_SECONDS = 30
    time_machine.move_to("2026-12-23T03:00:00+00:00", tick=False)
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0)
    gateway.answers = [(200, 1.5)] * 3  # slower than the 0.5 s the gateway is given

    tasks.deliver.delay(delivery.pk)  # in process, as the embedded default runs it: no broker to wait

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "unreachable" in delivery.error
    assert attempts_after(delivery, 29, time_machine) == ("queued", 1)  # not before its 30 s
    assert attempts_after(delivery, 1, time_machine) == ("queued", 2)
    assert attempts_after(delivery, 59, time_machine) == ("queued", 2)  # then 60 s
    assert attempts_after(delivery, 1, time_machine) == ("failed", 3)  # the first try and two retries
    assert "gave up after 3 attempts" in delivery.error
    assert "failed" in caplog.text


def test_a_delivery_sent_again_after_it_gave_up_has_its_tries_afresh(called, gateway, settings, time_machine, trader):
    settings.NOTICE_MAX_RETRIES = 1
    time_machine.move_to("2026-12-23T03:00:00+00:00", tick=False)
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0)
    gateway.answers = [(503, 0), (503, 0)]
    tasks.deliver.delay(delivery.pk)
    assert attempts_after(delivery, 3600, time_machine) == ("failed", 2)

    gateway.answers = [(503, 0), (200, 0)]
    services.resend(user=trader, deliveries=[delivery])
    tasks.deliver.delay(delivery.pk)

    assert attempts_after(delivery, 0, time_machine) == ("queued", 1)  # a retry left, not given up
    assert attempts_after(delivery, 3600, time_machine) == ("sent", 2)


def test_a_failed_notice_is_not_sent_again_where_the_system_would_not_send_it_now(called, trader, time_machine):
    trigger = m1("sms")  # the call's trigger notice
    Delivery.objects.filter(pk=trigger.pk).update(status="failed")
    trigger.refresh_from_db()

    time_machine.move_to(called.deadline + dt.timedelta(minutes=1), tick=False)
    assert services.resend(user=trader, deliveries=[trigger]) == {"queued": [], "past_deadline": [trigger.pk]}
    from risk import calls

    assert calls.end_call(called.pk, reason="paid by cheque", user=trader)
    trigger = Delivery.objects.select_related("notice__call").get(pk=trigger.pk)
    assert services.resend(user=trader, deliveries=[trigger]) == {"queued": [], "closed": [trigger.pk]}
    assert Delivery.objects.get(pk=trigger.pk).status == "failed"


def test_a_desks_failed_message_is_sent_again_past_the_deadline(called, trader, time_machine):
    [notice] = services.send(user=trader, calls=[called], channels=["sms"], text="Call us.", key="k1")
    delivery = notice.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed")
    delivery.refresh_from_db()
    time_machine.move_to(called.deadline + dt.timedelta(minutes=1), tick=False)

    assert services.resend(user=trader, deliveries=[delivery]) == {"queued": [delivery.pk]}
    assert Delivery.objects.get(pk=delivery.pk).status == "queued"


def test_retries_due_are_the_longest_waiting_whatever_their_key(called, settings):
    settings.NOTICE_RETRY_SECONDS = 30
    email, sms = m1("email"), m1("sms")
    now = at("2026-12-23T12:00:00+08:00")
    # the lower key is still waiting (its second try is 60 s after its first); the higher one is due
    Delivery.objects.filter(pk=email.pk).update(status="queued", attempts=2, updated_at=now - dt.timedelta(seconds=59))
    Delivery.objects.filter(pk=sms.pk).update(status="queued", attempts=1, updated_at=now - dt.timedelta(seconds=31))
    assert services.retries_due(now, limit=1) == [sms.pk]
    Delivery.objects.filter(pk=email.pk).update(updated_at=now - dt.timedelta(seconds=61))
    assert services.retries_due(now) == [email.pk, sms.pk]  # the longest waiting first
    # tried more often than the retries now allowed: due after the last wait, not never
    Delivery.objects.filter(pk=email.pk).update(updated_at=now - dt.timedelta(seconds=40))
    assert services.retries_due(now) == [sms.pk]
    settings.NOTICE_MAX_RETRIES = 0
    assert services.retries_due(now) == [email.pk, sms.pk]


def test_a_5xx_is_retried_and_then_sent(called, gateway, time_machine):
    time_machine.move_to("2026-12-23T03:00:00+00:00", tick=False)
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0)
    gateway.answers = [(503, 0), (502, 0)]

    tasks.deliver.delay(delivery.pk)
    attempts_after(delivery, 3600, time_machine)
    attempts_after(delivery, 3600, time_machine)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 3, "")


def test_a_4xx_fails_at_once(called, gateway):
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0)
    gateway.answers = [(400, 0)]

    tasks.deliver.delay(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "refused it (400)" in delivery.error


def test_without_a_gateway_an_sms_fails_and_says_why(import_book, worked_book, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)
    delivery = m1("sms")
    assert delivery.status == "failed"
    assert "no sms gateway is configured" in delivery.error


@pytest.mark.parametrize("phone", ["+852 9123 4567", "(852) 9123-4567", "91234567", "+1.415.555.0100"])
def test_a_phone_number_as_people_write_it_is_sent_to(called, gateway, phone):
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0, recipient=phone)
    assert services.deliver(delivery.pk) == "sent"


@pytest.mark.parametrize(
    "phone", ["amount", "NaN", "{}", "\u200b91234567", "12345", "+852 9123 4567 8901 23", "９１２３４５６７"]
)
def test_a_phone_that_is_no_phone_number_fails_and_says_why(called, gateway, phone):
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0, recipient=phone)
    received = len(gateway.received)

    assert services.deliver(delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert "is not a phone number" in delivery.error
    assert len(gateway.received) == received  # never sent
    called.account.phone = phone
    called.account.save(update_fields=["phone"])
    [row] = services.preview([called], kind="manual", channels=["sms"])
    assert row["problem"] == "not a phone number"


@pytest.mark.parametrize(
    "email", ["client@exa\u202emple.com", "a@\u200bexample.com", "a@example.com\u3000", "a@exa\u3164mple.com"]
)
def test_an_email_address_mail_cannot_go_to_fails_and_says_why(called, email):
    """Stored before addresses were checked: the delivery fails naming the character, with no traceback,
    and the desk's preview says so first."""
    delivery = m1("email")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", attempts=0, recipient=email)
    sent = len(mail.outbox)

    assert services.deliver(delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert "is not an address mail can go to (it holds U+" in delivery.error
    with translation.override("zh-hant"):
        assert "電郵地址" in delivery_error(delivery)  # in the reader's words, not the stored English
    assert len(mail.outbox) == sent
    Account.objects.filter(pk=called.account_id).update(email=email)
    called.account.refresh_from_db()
    [row] = services.preview([called], kind="manual", channels=["email"])
    assert row["problem"] == "not an address mail can go to"


def test_the_demo_writes_sms_to_a_log_file(
    import_book, worked_book, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.NOTICE_LOG_DIR = str(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)
    lines = [json.loads(line) for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert [line["to"] for line in lines if line["account_no"] == "M100001"] == ["+85291234567"]
    assert m1("sms").status == "sent"


# --- templates and placeholders --------------------------------------------------------------------


def test_default_templates_exist_in_three_languages_for_every_kind_and_channel():
    assert NoticeTemplate.objects.count() == len(NoticeKind) * 3 * 3 == 8 * 3 * 3
    for template in NoticeTemplate.objects.all():
        template.full_clean()  # every placeholder is known


def test_an_unknown_placeholder_or_a_stray_brace_is_refused_when_saved():
    template = NoticeTemplate.objects.get(kind="daily", channel="sms", language="en")
    for body, why in (
        ("{account.__class__}", "Unknown placeholder"),
        ("{password}", "Unknown placeholder"),
        ("pay {call_amount", "lone"),
        ("{{literal}} braces are fine {account}", None),
    ):
        template.body = body
        if why is None:
            template.full_clean()
        else:
            with pytest.raises(ValidationError, match=why):
                template.full_clean()


def test_a_template_names_only_what_a_notice_of_its_kind_fills():
    daily = NoticeTemplate.objects.get(kind="daily", channel="sms", language="en")
    recovery = NoticeTemplate.objects.get(kind="recovery", channel="sms", language="en")

    daily.body = "Buy back {stock} by {due}"
    with pytest.raises(ValidationError, match=r"\{stock\} is filled only in a notice about stock recovery"):
        daily.full_clean()
    recovery.body = "Your call of {call_amount}"
    with pytest.raises(ValidationError, match=r"\{call_amount\} is filled only in a notice about a margin call"):
        recovery.full_clean()
    recovery.body = "Dear {name}, {account} must buy back {quantity} {stock} by {due}. {broker}"
    recovery.full_clean()


def test_a_debit_text_may_not_name_the_ratio_a_debit_call_does_not_have(called, trader):
    debit = NoticeTemplate.objects.get(kind="debit", channel="sms", language="en")
    debit.body = "{account} owes {call_amount} at a ratio of {ratio}"
    with pytest.raises(ValidationError, match=r"\{ratio\} is not filled in a debit notice"):
        debit.full_clean()
    debit.body = "{account} owes {call_amount} by {deadline}. {broker}"
    debit.full_clean()
    daily = NoticeTemplate.objects.get(kind="daily", channel="sms", language="en")
    daily.body = "{account} is at {ratio}"
    daily.full_clean()  # every other call's notice has its ratio
    MarginCall.objects.filter(pk=called.pk).update(call_type="debit")
    called.refresh_from_db()
    with pytest.raises(services.Refused, match=r"\{ratio\} is not filled in a debit notice"):
        services.send(user=trader, calls=[called], channels=["sms"], kind="debit", text="At {ratio}", key="k2abcdefg")


def test_a_desks_own_text_naming_the_ratio_is_refused_for_a_debit_call_and_sent_to_others(called, trader):
    text = "Your ratio is {ratio}; please call us. {{ratio}} is its name."

    [notice] = services.send(user=trader, calls=[called], channels=["sms"], text=text, key="k3abcdefg")
    assert "{ratio}" in notice.deliveries.get().body  # the literal braces; the ratio itself is filled
    MarginCall.objects.filter(pk=called.pk).update(call_type="debit")
    called.refresh_from_db()

    with pytest.raises(services.Refused, match=r"\{ratio\} would read “—” to these debit calls' clients.*M100001"):
        services.send(user=trader, calls=[called], channels=["sms"], text=text, key="k4abcdefg")
    assert services.send(user=trader, calls=[called], channels=["sms"], text="Call us {{ratio}}", key="k5abcdefg")


def test_the_admins_preview_has_a_sample_for_every_placeholder():
    from notices.admin import SAMPLE
    from notices.placeholders import PLACEHOLDERS

    assert set(SAMPLE) == set(PLACEHOLDERS)


def test_the_admins_preview_of_an_sms_template_says_how_many_messages_it_goes_out_as(settings):
    from django.contrib.admin.sites import site

    from notices.admin import NoticeTemplateAdmin

    admin = NoticeTemplateAdmin(NoticeTemplate, site)
    force_call = NoticeTemplate.objects.get(kind="force_call", channel="sms", language="zh-hant")
    force_call.body = "{broker}：帳戶 {account} 已進入強制平倉。" * 3
    with translation.override("en"):
        assert "sent as 2 SMS messages of up to 67 each" in str(admin.preview(force_call))
        settings.NOTICE_BROKER_NAMES = {"en": "Example Securities", "zh-hans": "示例证券", "zh-hant": "示例證券"}
        assert "示例證券：帳戶 M100001" in str(admin.preview(force_call))  # the broker's name in its language
        assert "SMS" not in str(admin.preview(NoticeTemplate.objects.get(kind="daily", channel="email", language="en")))


def test_placeholders_are_text_never_code():
    values = {"name": "<script>alert(1)</script> {broker}", "account": "M1"}
    assert fill("Dear {name} ({account})", values) == "Dear <script>alert(1)</script> {broker} (M1)"
    html = fill("<b>Dear</b> {name}", values, html=True)
    assert "<script>" not in html
    assert "&lt;b&gt;Dear&lt;/b&gt;" in html  # the template's own text is escaped too
    with pytest.raises(TemplateError):
        check("{name!r}")
    with pytest.raises(TemplateError):
        check("{0}")


def test_an_injected_name_reaches_the_email_escaped(import_book, worked_book, django_capture_on_commit_callbacks):
    worked_book["accounts"][0]["name"] = '<img src=x onerror="alert(1)"> {broker}'
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)
    [email] = [email for email in mail.outbox if email.to == ["client@example.com"]]
    html = email.alternatives[0][0] if hasattr(email.alternatives[0], "__getitem__") else email.alternatives[0].content
    assert "<img" not in html
    assert "&lt;img" in html
    assert "{broker}" in email.body  # a name is never read as a placeholder


def test_a_language_without_its_template_falls_back_to_english(called):
    NoticeTemplate.objects.filter(language="zh-hant", kind="manual").delete()
    [row] = services.preview([called], kind="manual", channels=["sms"])
    assert row["language"] == "en"
    assert "M100001" in row["body"]


def test_a_chinese_text_is_signed_with_the_brokers_chinese_name(called, settings):
    settings.NOTICE_BROKER_NAMES = {"en": "Example Securities", "zh-hans": "示例证券", "zh-hant": "示例證券"}
    [row] = services.preview([called], kind="manual", channels=["sms"])  # M100001 reads Traditional Chinese
    assert row["language"] == "zh-hant"
    assert row["body"].startswith("示例證券：")
    called.account.language = "en"
    called.account.save(update_fields=["language"])
    [row] = services.preview([called], kind="manual", channels=["sms"])
    assert row["body"].startswith("Example Securities: ")


def test_a_desks_own_text_is_signed_in_the_language_it_is_written_in(called, settings):
    settings.NOTICE_BROKER_NAMES = {"en": "Example Securities", "zh-hans": "示例证券", "zh-hant": "示例證券"}
    text = "{broker}: please deposit by noon."  # to M100001, who reads Traditional Chinese

    [row] = services.preview([called], kind="manual", channels=["email"], text=text)

    assert (row["language"], row["subject"]) == ("en", "About your account M100001")
    assert row["body"] == "Example Securities: please deposit by noon."
    [row] = services.preview([called], kind="manual", channels=["email"], text="{broker}：請於中午前存入資金。")
    assert row["language"] == "zh-hant"
    assert row["body"] == "示例證券：請於中午前存入資金。"
    assert "M100001" in row["subject"]
    assert "About" not in row["subject"]


def test_the_preview_of_an_sms_says_how_many_messages_it_goes_out_as(called):
    [row] = services.preview([called], kind="manual", channels=["sms"], text="請即存入資金。" * 12)
    assert row["sms_size"].startswith("84 characters: sent as 2 SMS messages")
    [email] = services.preview([called], kind="manual", channels=["email"], text="請即存入資金。" * 12)
    assert email["sms_size"] == ""


# --- what gateways report back ---------------------------------------------------------------------


def report(body, token):
    from django.test import Client

    return Client().post(
        reverse("notices:api-status"),
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )


@pytest.fixture
def token(db):
    from book.models import ApiToken

    api_token = ApiToken(name="sms-gateway")
    secret = api_token.issue()
    api_token.save()
    return secret


def test_a_gateway_reports_a_delivery_delivered(called, token, time_machine):
    delivery = m1("sms")
    time_machine.move_to(at("2026-12-23T11:30:07+08:00"))  # the gateway reports it two seconds later
    response = report(
        [
            {"id": delivery.pk, "status": "delivered", "time": "2026-12-23T11:30:05+08:00"},
            {"id": 999999, "status": "delivered", "time": "2026-12-23T11:30:05+08:00"},
            {"id": delivery.pk, "status": "lost", "time": "2026-12-23T11:30:05+08:00"},
            {"id": delivery.pk, "status": "failed", "time": "2999-01-01T00:00:00+08:00"},
            "nonsense",
        ],
        token,
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "refused", "refused", "refused", "refused"]
    assert results[1]["reason"] == "unknown delivery"
    assert "delivered or failed" in results[2]["reason"]
    assert "ahead of the server's clock" in results[3]["reason"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.delivered_at) == ("delivered", at("2026-12-23T11:30:05+08:00"))
    called.refresh_from_db()
    assert called.last_notice_status in ("delivered", "sent")  # the email stays "sent"


def test_a_gateways_error_text_is_kept_as_it_was_sent(called, token):
    delivery = m1("sms")
    failed = {"id": delivery.pk, "status": "failed", "time": "2026-12-23T11:30:05+08:00", "error": "r\ufffdjected"}

    response = report([failed], token)

    assert response.json()["results"][0]["status"] == "applied"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "r\ufffdjected")


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        ("line1\r\nline2\tcode 42", "line1 line2 code 42"),
        ("bad\x00byte \ud800 \u202e", "bad\\x00byte \\ud800 \\u202e"),
        ("x" * 600, "x" * 499 + "…"),
    ],
    ids=["line breaks and tabs", "controls", "too long"],
)
def test_a_failure_is_applied_whatever_the_gateways_error_text_holds(called, token, error, kept):
    """What became of the message matters more than how the gateway words it: its text is made safe to
    keep and show, never a reason to leave the delivery as sent."""
    delivery = m1("sms")
    failed = {"id": delivery.pk, "status": "failed", "time": "2026-12-23T11:30:05+08:00", "error": error}

    response = report([failed], token)

    assert response.json()["results"][0]["status"] == "applied"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", kept)
    refused = {**failed, "error": 42}
    assert report([refused], token).json()["results"][0]["reason"] == "error must be a string, got 42"


def test_a_report_of_a_time_before_the_delivery_was_sent_is_refused(called, token):
    delivery = m1("sms")
    sent = delivery.sent_at
    early = (sent - dt.timedelta(days=1)).isoformat()
    skewed = (sent - dt.timedelta(seconds=30)).isoformat()  # a gateway's clock a little behind this one

    results = report(
        [
            {"id": delivery.pk, "status": "delivered", "time": early},
            {"id": delivery.pk, "status": "delivered", "time": "2026-12-23"},
            {"id": delivery.pk, "status": "delivered", "time": skewed},
        ],
        token,
    ).json()["results"]

    assert results[0]["reason"].startswith("time is before the delivery was sent (2026-12-23T")
    assert results[1]["reason"] == 'time must be a date and time, got a date alone: "2026-12-23"'
    assert results[2]["status"] == "applied"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.delivered_at) == ("delivered", sent)  # never before it was sent


def test_of_two_reports_at_once_only_one_is_taken(called, token, monkeypatch):
    delivery = m1("sms")
    real_set = services._set

    def another_report_first(*args, **kwargs):
        # The other report is taken between this one's read and its write.
        Delivery.objects.filter(pk=delivery.pk).update(status="failed", error="rejected")
        return real_set(*args, **kwargs)

    monkeypatch.setattr(services, "_set", another_report_first)
    [result] = report([{"id": delivery.pk, "status": "delivered", "time": "2026-12-23T11:30:05+08:00"}], token).json()[
        "results"
    ]

    assert (result["status"], result["reason"]) == ("refused", "the delivery is failed")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.delivered_at, delivery.error) == ("failed", None, "rejected")


def test_a_delivery_reported_delivered_while_it_was_sending_stays_delivered(called, token, monkeypatch):
    from notices import channels

    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", sent_at=None)

    def send_and_hear_back(sending):
        services.report(sending.pk, "delivered", at=dt.datetime.now(dt.UTC))  # a fast gateway

    monkeypatch.setattr(channels, "send", send_and_hear_back)

    assert services.deliver(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.sent_at is not None
    assert delivery.sent_at <= delivery.delivered_at  # never sent after it was delivered


@pytest.mark.parametrize("identifier", ["1e999999999", "-1e999999999", "1.5", "0", "9223372036854775808", "true"])
def test_a_status_with_an_id_that_is_no_delivery_id_is_refused_at_once(called, token, identifier):
    body = f'[{{"id": {identifier}, "status": "delivered", "time": "2026-12-23T11:30:05+08:00"}}]'
    response = Client().post(
        reverse("notices:api-status"),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["reason"] == "id must be a delivery's id (a positive whole number)"


def test_the_status_api_needs_a_token_and_a_list(called, token):
    assert report([], None).status_code == 401
    assert report([], "wrong").status_code == 401
    assert report({"id": 1}, token).status_code == 400
    assert report([{"id": 1}] * 1001, token).status_code == 400


# --- commands --------------------------------------------------------------------------------------


def test_the_daily_job_run_for_a_past_time_skips_calls_opened_after_it(called, django_capture_on_commit_callbacks):
    MarginCall.objects.filter(pk=called.pk).update(triggered_at=at("2026-12-24T18:00:00+08:00"))

    assert daily("2026-12-24T17:00:00+08:00", django_capture_on_commit_callbacks) == []
    assert len(daily("2026-12-28T17:00:00+08:00", django_capture_on_commit_callbacks)) == 1


def test_send_daily_notices_and_export_notices(called, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at("2026-12-24T17:05:00+08:00")):
        call_command("send_daily_notices", "--now", "2026-12-24T17:00:00+08:00", stdout=out)
    assert "daily notice(s) for 2026-12-24" in out.getvalue()

    out = io.StringIO()
    call_command("export_notices", "--account", "M100001", stdout=out)
    rows = json.loads(out.getvalue())
    assert [(row["kind"], row["day"]) for row in rows] == [("trigger", "2026-12-23"), ("daily", "2026-12-24")]
    assert set(rows[0]) == {"account_no", "call", "kind", "day", "created_at", "deliveries"}
    assert rows[0]["account_no"] == "M100001"
    assert rows[0]["created_at"].endswith("+08:00")
    assert {d["channel"] for d in rows[0]["deliveries"]} == {"email", "sms"}
    assert set(rows[0]["deliveries"][0]) == {"channel", "status", "error"}


def test_send_daily_notices_refuses_a_bad_time():
    from django.core.management import CommandError

    for bad in ("tomorrow", "2026-13-24T17:00:00+08:00", "1999-01-01T00:00:00+08:00"):
        with pytest.raises(CommandError, match="--now"):
            call_command("send_daily_notices", "--now", bad)
    # Ahead of the clock (now 2026-12-23 11:30 in Hong Kong), it would send tomorrow's notices today.
    with pytest.raises(CommandError, match=r"--now is 29.5 h ahead of the server's clock"):
        call_command("send_daily_notices", "--now", "2026-12-24T17:00:00+08:00")
    with pytest.raises(CommandError, match="--now must be a date and time, got a date alone"):
        call_command("send_daily_notices", "--now", "2026-12-22")
    assert not Notice.objects.exists()


def test_a_deleted_template_falls_back_to_the_shipped_text(called):
    NoticeTemplate.objects.all().delete()
    [row] = services.preview([called], kind="daily", channels=["sms"])
    assert (row["language"], row["problem"]) == ("zh-hant", "")
    assert "M100001" in row["body"]


# --- the task queue away ---------------------------------------------------------------------------


def unreachable(*args, **kwargs):
    from kombu.exceptions import OperationalError

    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_call_that_opens_while_the_queue_is_away_gets_its_notice_and_the_sweep_sends_it(
    import_book, worked_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    tries = []
    monkeypatch.setattr(tasks.system_notices, "delay", unreachable)
    monkeypatch.setattr(tasks.deliver, "delay", lambda *args: tries.append(args) or unreachable())
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)

    [notice] = m1_notices()  # written where the call opened, not lost with the task
    assert notice.kind == "trigger"
    assert len(tries) == 1  # one try at the queue, not one a delivery
    assert {(d.status, d.error) for d in notice.deliveries.all()} == {("queued", services.NOT_QUEUED)}

    monkeypatch.undo()
    assert tasks.sweep_deliveries() == Delivery.objects.count()  # at its next run, not an hour later
    assert {d.status for d in notice.deliveries.all()} == {"sent"}
    assert {d.error for d in notice.deliveries.all()} == {""}


# --- when a notice may still go ------------------------------------------------------------------


def test_the_daily_job_replayed_past_the_deadline_sends_nothing(called, django_capture_on_commit_callbacks, gateway):
    assert called.deadline == at("2026-12-29T16:00:00+08:00")
    with (
        time_machine.travel(at("2026-12-30T10:00:00+08:00"), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("send_daily_notices", "--now", "2026-12-24T17:00:00+08:00", stdout=io.StringIO())

    assert not Notice.objects.filter(call=called, kind="daily").exists()


def test_a_replayed_day_is_written_at_the_clocks_time_and_never_moves_the_last_notice_back(
    called, django_capture_on_commit_callbacks
):
    assert len(daily("2026-12-28T17:00:00+08:00", django_capture_on_commit_callbacks)) == 1
    called.refresh_from_db()
    last = called.last_notice_at
    with (
        time_machine.travel(at("2026-12-28T17:30:00+08:00"), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("send_daily_notices", "--now", "2026-12-24T17:00:00+08:00", stdout=io.StringIO())

    replayed = Notice.objects.get(call=called, day=dt.date(2026, 12, 24))
    assert replayed.created_at == at("2026-12-28T17:30:00+08:00")
    called.refresh_from_db()
    assert called.last_notice_at == at("2026-12-28T17:30:00+08:00") > last
    snapshot = called.snapshots.filter(kind="notice_email").order_by("-taken_at").first()
    assert snapshot.taken_at == at("2026-12-28T17:30:00+08:00")


def test_a_call_opened_just_before_the_daily_job_gets_its_trigger_notice_not_a_reminder(
    import_book, django_capture_on_commit_callbacks
):
    with time_machine.travel(at("2026-12-23T17:30:00+08:00"), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as held:  # the trigger task still queued
            import_book(one_stock_book(as_of="2026-12-23T17:29:59+08:00"))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.daily_notices() == []  # beat's job runs first
            for callback in held:
                callback()

    assert list(Notice.objects.values_list("kind", "day")) == [("trigger", dt.date(2026, 12, 23))]


def tick(price, moment, django_capture_on_commit_callbacks):
    from book import ticks

    with (
        time_machine.travel(at(moment) + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticks.apply_and_recompute([{"symbol": "S.HK", "price": price, "time": moment}])


def test_a_call_that_closed_before_its_trigger_notice_was_written_gets_it_when_it_reopens(
    import_book, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        import_book(one_stock_book(price="120"))  # no call
    queued = []
    monkeypatch.setattr(tasks.system_notices, "delay", lambda kind, ids: queued.append((kind, ids)))
    tick("100", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)  # opens; its task waits
    tick("120", "2026-12-23T11:00:05+08:00", django_capture_on_commit_callbacks)  # closes before it runs
    monkeypatch.undo()
    with (
        time_machine.travel(at("2026-12-23T11:00:07+08:00"), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert [services.system_notices(kind, ids) for kind, ids in queued] == [[]]  # closed: not told

    tick("100", "2026-12-23T11:05:00+08:00", django_capture_on_commit_callbacks)  # reopens

    call = MarginCall.objects.get()
    assert (call.closed_at, call.reopened_count) == (None, 1)
    assert list(Notice.objects.values_list("kind", flat=True)) == ["trigger"]


def reachable_client(import_book, django_capture_on_commit_callbacks):
    """T1 holding S.HK at 120 (not called), with an email address and a phone to send to."""
    book = one_stock_book(price="120")
    book["accounts"][0].update(email="t1@example.com", phone="+85291234567")
    with django_capture_on_commit_callbacks(execute=True):
        import_book(book)


def test_a_trigger_notice_held_because_its_call_closed_goes_when_the_call_reopens(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    reachable_client(import_book, django_capture_on_commit_callbacks)
    held = []
    monkeypatch.setattr(tasks.deliver, "delay", held.append)  # its deliveries wait in the queue
    tick("100", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    tick("120", "2026-12-23T11:00:05+08:00", django_capture_on_commit_callbacks)  # closed meanwhile
    monkeypatch.undo()
    with time_machine.travel(at("2026-12-23T11:00:07+08:00"), tick=False):
        for delivery_id in held:
            assert services.deliver(delivery_id) == "failed"
    assert set(Delivery.objects.values_list("error", flat=True)) == {services.NOT_SENT["closed"]}
    assert gateway.received == []

    tick("100", "2026-12-23T11:05:00+08:00", django_capture_on_commit_callbacks)  # reopens: they go now

    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert len(gateway.received) == 1  # the SMS (the email has no gateway to count)
    assert Notice.objects.count() == 1
    assert MarginCall.objects.get().last_notice_status == "sent"


def hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch, *, price="100"):
    """A call opens at ``price``, its deliveries wait in the queue, it closes, and they are held."""
    reachable_client(import_book, django_capture_on_commit_callbacks)
    held = []
    monkeypatch.setattr(tasks.deliver, "delay", held.append)
    tick(price, "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    tick("120", "2026-12-23T11:00:05+08:00", django_capture_on_commit_callbacks)
    monkeypatch.undo()
    with time_machine.travel(at("2026-12-23T11:00:07+08:00"), tick=False):
        for delivery_id in held:
            assert services.deliver(delivery_id) == "failed"
    return MarginCall.objects.get()


def test_a_held_notice_goes_with_its_reopened_calls_figures_to_the_clients_address_now(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    call = hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    assert "10,000.00" in Delivery.objects.get(channel="sms").body  # as written when the call opened
    Account.objects.filter(pk=call.account_id).update(email="new@example.com")

    tick("110", "2026-12-23T11:05:00+08:00", django_capture_on_commit_callbacks)  # reopens, owing less

    call.refresh_from_db()
    assert call.call_amount == Decimal("5000.00")
    deliveries = {d.channel: d for d in Delivery.objects.all()}
    assert {d.status for d in deliveries.values()} == {"sent"}
    assert "5,000.00" in deliveries["sms"].body
    assert "10,000.00" not in deliveries["sms"].body
    assert "5,000.00" in deliveries["email"].body
    assert deliveries["email"].recipient == "new@example.com"
    assert gateway.received[-1]["json"]["text"] == deliveries["sms"].body
    # what the client was told is kept beside it, as for any notice
    snapshot = call.snapshots.filter(kind="notice_sms").order_by("-taken_at").first()
    assert (snapshot.taken_at, snapshot.call_amount) == (at("2026-12-23T11:05:01+08:00"), Decimal("5000.00"))


def test_a_held_opening_notice_of_a_call_that_reopened_as_a_debit_is_worded_as_one(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    call = hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    MarginCall.objects.filter(pk=call.pk).update(
        status="open", closed_at=None, close_cause="", call_type="debit", nav_ratio=None
    )

    with django_capture_on_commit_callbacks(execute=True):
        services._send_held_again([call.pk], at("2026-12-23T11:06:00+08:00"))

    notice = Notice.objects.get()
    assert (notice.kind, notice.key, notice.day) == ("debit", "trigger", dt.date(2026, 12, 23))
    sms = notice.deliveries.get(channel="sms")
    assert sms.status == "sent"
    assert "debit balance" in sms.body
    assert "ratio" not in sms.body
    assert gateway.received[-1]["json"]["kind"] == "debit"


def test_a_held_force_call_notice_stays_held_when_its_call_reopens_as_a_margin_call(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    call = hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    Notice.objects.update(kind="force_call", key="force_call:2026-12-23", day=None)
    MarginCall.objects.filter(pk=call.pk).update(status="open", closed_at=None, close_cause="", call_type="margin_call")
    sent = len(gateway.received)

    with django_capture_on_commit_callbacks(execute=True):
        services._send_held_again([call.pk], at("2026-12-23T11:06:00+08:00"))

    assert set(Delivery.objects.values_list("status", "error")) == {("failed", services.NOT_SENT["closed"])}
    assert len(gateway.received) == sent


def hold_the_force_call_notice(import_book, django_capture_on_commit_callbacks, monkeypatch):
    """A margin call at 100 is told; it escalates at 90, its force-call notice waits in the queue, the
    call closes at 120 and the notice is held; it reopens at 100 as a margin call: still held."""
    reachable_client(import_book, django_capture_on_commit_callbacks)
    tick("100", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    held = []
    monkeypatch.setattr(tasks.deliver, "delay", held.append)
    tick("90", "2026-12-23T11:01:00+08:00", django_capture_on_commit_callbacks)
    tick("120", "2026-12-23T11:02:00+08:00", django_capture_on_commit_callbacks)
    monkeypatch.undo()
    with time_machine.travel(at("2026-12-23T11:02:07+08:00"), tick=False):
        for delivery_id in held:
            assert services.deliver(delivery_id) == "failed"
    tick("100", "2026-12-23T11:05:00+08:00", django_capture_on_commit_callbacks)
    call = MarginCall.objects.get()
    assert (call.closed_at, call.call_type) == (None, "margin_call")
    assert set(Delivery.objects.filter(notice__kind="force_call").values_list("status", flat=True)) == {"failed"}
    return call


def test_a_held_force_call_notice_goes_when_its_call_escalates_again_the_same_day(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    hold_the_force_call_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)

    tick("95", "2026-12-23T11:10:00+08:00", django_capture_on_commit_callbacks)  # a force call again

    notice = Notice.objects.get(kind="force_call")
    assert set(notice.deliveries.values_list("status", flat=True)) == {"sent"}
    sms = notice.deliveries.get(channel="sms")
    assert "12,500.00" in sms.body  # owed at 95, not the 15,000.00 owed at 90
    assert gateway.received[-1]["json"]["kind"] == "force_call"


def test_a_held_force_call_notice_of_a_call_no_longer_one_is_not_sent_again_by_the_desk(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    from tests.conftest import make_user
    from tests.users import client_for

    hold_the_force_call_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    trader = make_user("trader", "RiskWarningFull")
    sms = Delivery.objects.select_related("notice__call").get(notice__kind="force_call", channel="sms")
    sent = len(gateway.received)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(trader).post(reverse("notices:resend"), {"deliveries": [sms.pk]}, follow=True)

    assert "1 is the system&#x27;s notice of a call whose type has changed since" in response.content.decode()
    assert services.resend(user=trader, deliveries=[sms]) == {"queued": [], "retyped": [sms.pk]}
    sms.refresh_from_db()
    assert sms.status == "failed"
    assert len(gateway.received) == sent


def test_a_notice_one_of_whose_deliveries_went_keeps_its_kind_and_its_held_one_stays_held(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    reachable_client(import_book, django_capture_on_commit_callbacks)
    held = []
    monkeypatch.setattr(tasks.deliver, "delay", held.append)
    tick("100", "2026-12-23T11:00:00+08:00", django_capture_on_commit_callbacks)
    monkeypatch.undo()
    email = Delivery.objects.get(channel="email")
    with time_machine.travel(at("2026-12-23T11:00:02+08:00"), tick=False):
        assert services.deliver(email.pk) == "sent"  # the email went, as the trigger text
    tick("120", "2026-12-23T11:00:05+08:00", django_capture_on_commit_callbacks)
    with time_machine.travel(at("2026-12-23T11:00:07+08:00"), tick=False):
        assert services.deliver(Delivery.objects.get(channel="sms").pk) == "failed"
    call = MarginCall.objects.get()
    MarginCall.objects.filter(pk=call.pk).update(
        status="open", closed_at=None, close_cause="", call_type="debit", nav_ratio=None
    )

    with django_capture_on_commit_callbacks(execute=True):
        services._send_held_again([call.pk], at("2026-12-23T11:06:00+08:00"))

    assert Notice.objects.get().kind == "trigger"
    assert Delivery.objects.get(channel="sms").status == "failed"


def test_a_notice_none_of_whose_deliveries_went_is_worded_again_whatever_became_of_the_others(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    call = hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    Delivery.objects.filter(channel="email").update(error="the client has no email address")  # never went
    MarginCall.objects.filter(pk=call.pk).update(
        status="open", closed_at=None, close_cause="", call_type="debit", nav_ratio=None
    )

    with django_capture_on_commit_callbacks(execute=True):
        services._send_held_again([call.pk], at("2026-12-23T11:06:00+08:00"))

    assert Notice.objects.get().kind == "debit"
    sms = Delivery.objects.get(channel="sms")
    assert sms.status == "sent"
    assert "debit balance" in sms.body


def test_a_held_reminder_of_an_earlier_day_stays_held_when_its_call_reopens(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    book = one_stock_book(as_of="2026-12-22T10:00:00+08:00")
    book["accounts"][0].update(email="t1@example.com", phone="+85291234567")
    with django_capture_on_commit_callbacks(execute=True):
        import_book(book)  # called on the 22nd
    held = []
    monkeypatch.setattr(tasks.deliver, "delay", held.append)
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at("2026-12-23T17:00:00+08:00")):
        services.daily_notices(at("2026-12-23T17:00:00+08:00"))
    tick("120", "2026-12-23T17:00:30+08:00", django_capture_on_commit_callbacks)  # closes before it leaves
    monkeypatch.undo()
    with time_machine.travel(at("2026-12-23T17:00:40+08:00"), tick=False):
        for delivery_id in held:
            assert services.deliver(delivery_id) == "failed"

    tick("100", "2026-12-24T10:00:00+08:00", django_capture_on_commit_callbacks)  # reopens the next day

    assert MarginCall.objects.get().closed_at is None
    reminder = Notice.objects.get(kind="daily", day=dt.date(2026, 12, 23))
    assert set(reminder.deliveries.values_list("status", flat=True)) == {"failed"}  # the 24th's is at 17:00


def test_a_held_notice_of_a_call_marked_exception_meanwhile_is_not_sent_when_it_leaves_the_queue(
    import_book, django_capture_on_commit_callbacks, gateway, monkeypatch
):
    call = hold_the_opening_notice(import_book, django_capture_on_commit_callbacks, monkeypatch)
    MarginCall.objects.filter(pk=call.pk).update(status="exception", closed_at=None, close_cause="")
    sent = len(gateway.received)

    with django_capture_on_commit_callbacks(execute=True):
        services._send_held_again([call.pk], at("2026-12-23T11:06:00+08:00"))

    assert set(Delivery.objects.values_list("status", "error")) == {("failed", services.NOT_SENT["closed"])}
    assert len(gateway.received) == sent


def test_a_delivery_waiting_in_the_queue_does_not_go_once_its_call_has_closed(called, gateway, trader, time_machine):
    from risk import calls

    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", error=services.NOT_QUEUED)
    assert calls.end_call(called.pk, reason="paid", user=trader)
    received = len(gateway.received)

    tasks.sweep_deliveries()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "not sent: its call closed before it went")
    assert len(gateway.received) == received


def test_a_system_notice_waiting_in_the_queue_does_not_go_past_the_deadline(called, gateway, time_machine):
    delivery = m1("sms")
    Delivery.objects.filter(pk=delivery.pk).update(status="queued", error=services.NOT_QUEUED)
    time_machine.move_to(called.deadline + dt.timedelta(hours=1), tick=False)

    tasks.sweep_deliveries()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "not sent: its call's deadline passed before it went")


def test_a_desks_message_from_a_system_template_may_go_again_past_the_deadline(called, trader, time_machine):
    [notice] = services.send(user=trader, calls=[called], channels=["sms"], kind="daily", key="k1abcdefg")
    delivery = notice.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed")
    delivery = Delivery.objects.select_related("notice__call").get(pk=delivery.pk)
    time_machine.move_to(called.deadline + dt.timedelta(minutes=1), tick=False)

    assert services.resend(user=trader, deliveries=[delivery]) == {"queued": [delivery.pk]}


def test_a_line_separator_in_a_clients_name_leaves_the_email_subject_on_one_line(
    import_book, worked_book, django_capture_on_commit_callbacks
):
    NoticeTemplate.objects.filter(kind="trigger", channel="email").update(subject="Margin call {name} {account}")
    worked_book["accounts"][0]["name"] = "Chan\u2028Tai\u2029Man"
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)

    delivery = Delivery.objects.get(channel="email", notice__account__account_no="M100001")
    assert delivery.status == "sent", delivery.error
    [email] = [message for message in mail.outbox if "M100001" in message.subject]
    assert email.subject == "Margin call Chan Tai Man M100001"


def test_full_width_punctuation_alone_does_not_make_a_text_chinese():
    assert services.text_language("Pay {call_amount} by {deadline}！", "zh-hant") == "en"
    assert services.text_language("Pay、now", "zh-hans") == "en"
    assert services.text_language("請於截止時間前存款", "zh-hant") == "zh-hant"


def test_a_notice_that_went_on_one_channel_and_failed_on_another_shows_partly_failed(
    import_book, worked_book, django_capture_on_commit_callbacks, gateway
):
    gateway.answers = [(400, 0)]  # the SMS is refused; the email goes
    with django_capture_on_commit_callbacks(execute=True):
        import_book(worked_book)

    call = MarginCall.objects.get(account__account_no="M100001")
    statuses = dict(Delivery.objects.filter(notice__call=call).values_list("channel", "status"))
    assert statuses == {"email": "sent", "sms": "failed"}
    assert call.last_notice_status == "partly_failed"


def test_a_desks_message_on_its_way_leaves_though_its_call_closed_and_a_liquidation_one_may_go_again(
    called, trader, gateway, time_machine
):
    from liquidation.models import Order
    from risk import calls

    [manual] = services.send(user=trader, calls=[called], channels=["sms"], kind="manual", key="k2abcdefg")
    position = called.account.positions.first()  # a liquidation order placed: what the template tells of
    Order.objects.create(account=called.account, call=called, instrument=position.instrument, side="sell", quantity=1)
    [liquidation] = services.send(user=trader, calls=[called], channels=["sms"], kind="liquidation", key="k3abcdefg")
    waiting = manual.deliveries.get()
    Delivery.objects.filter(pk=waiting.pk).update(status="queued", error=services.NOT_QUEUED)
    assert calls.end_call(called.pk, reason="paid", user=trader)

    tasks.sweep_deliveries()

    waiting.refresh_from_db()
    assert waiting.status == "sent"
    told = liquidation.deliveries.get()
    Delivery.objects.filter(pk=told.pk).update(status="failed")
    told = Delivery.objects.select_related("notice__call").get(pk=told.pk)
    assert services.resend(user=trader, deliveries=[told]) == {"queued": [told.pk]}
    Delivery.objects.filter(pk=waiting.pk).update(status="failed")
    waiting = Delivery.objects.select_related("notice__call").get(pk=waiting.pk)
    assert services.resend(user=trader, deliveries=[waiting]) == {"queued": [], "closed": [waiting.pk]}


def test_a_call_opened_that_day_whose_trigger_notice_never_came_gets_the_daily_one(
    import_book, django_capture_on_commit_callbacks
):
    # the trigger task is lost
    with time_machine.travel(at("2026-12-23T16:00:00+08:00"), tick=False), django_capture_on_commit_callbacks():
        import_book(one_stock_book(as_of="2026-12-23T15:59:00+08:00"))

    assert [notice.kind for notice in daily("2026-12-23T17:00:00+08:00", django_capture_on_commit_callbacks, "T1")] == [
        "daily"
    ]


def test_an_email_template_needs_a_subject_and_a_gateway_is_named_without_its_query():
    from notices.models import NoticeGateway

    template = NoticeTemplate(kind="manual", channel="email", language="en", subject="  ", body="Hello {account}")
    with pytest.raises(ValidationError, match="An email needs a subject"):
        template.clean()
    gateway = NoticeGateway(channel="sms", url="https://user:pw@gw.example.com/send?key=SECRET123")
    assert str(gateway) == "SMS: https://gw.example.com/send"


def test_a_gateway_clock_ahead_of_this_one_never_stores_a_delivery_time_in_the_future(called, token):
    from django.utils import timezone

    delivery = m1("sms")
    ahead = timezone.now() + dt.timedelta(seconds=200)  # within the feeds' allowance (300 s)
    [result] = report([{"id": delivery.pk, "status": "delivered", "time": ahead.isoformat()}], token).json()["results"]

    assert result["status"] == "applied"
    delivery.refresh_from_db()
    assert delivery.delivered_at <= timezone.now()


# --- debit calls -----------------------------------------------------------------------------------


@pytest.fixture
def debit_call(import_book, django_capture_on_commit_callbacks, gateway):
    """An account that owes HKD 5,000 and holds nothing: a debit call, opened at 10:00 on 23 December."""
    book = one_stock_book(cash="-5000", quantity=0)
    book["accounts"][0]["language"] = "zh-hant"
    with django_capture_on_commit_callbacks(execute=True):
        import_book(book)
    call = MarginCall.objects.get(account__account_no="T1")
    assert call.call_type == "debit"
    return call


def test_a_debit_call_is_told_of_its_debt_not_of_a_ratio_or_positions_to_reduce(debit_call):
    """A debit call has no ratio and no position to sell: the trigger text ("net asset ratio is —,
    deposit funds or reduce your positions") would tell its client nothing true beyond the amount."""
    [notice] = Notice.objects.filter(call=debit_call)
    assert (notice.kind, notice.key, notice.day) == ("debit", "trigger", dt.date(2026, 12, 23))
    bodies = {d.channel: d.body for d in notice.deliveries.all()}
    assert set(bodies) == {"email", "sms"}
    for body in bodies.values():
        for said in ("欠款", "無持倉", "5,000.00"):
            assert said in body
        for unsaid in ("比率", "減倉", "—"):
            assert unsaid not in body
    assert notice.deliveries.get(channel="email").subject == "帳戶 T1 欠款通知"


def test_a_debit_calls_daily_notice_is_the_debit_text_once_a_day(
    debit_call, called, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(at("2026-12-24T17:00:00+08:00")):
        written = services.daily_notices(at("2026-12-24T17:00:00+08:00"))
    kinds = {notice.account.account_no: (notice.kind, notice.key) for notice in written}
    assert kinds == {
        "T1": ("debit", "daily:2026-12-24"),
        "I200001": ("debit", "daily:2026-12-24"),  # the worked book's own debit call
        "M100001": ("daily", "daily:2026-12-24"),
    }
    assert "欠款" in Notice.objects.get(call=debit_call, kind="debit", day="2026-12-24").deliveries.first().body
    assert daily("2026-12-24T18:00:00+08:00", django_capture_on_commit_callbacks, account_no="T1") == []
    with pytest.raises(IntegrityError), transaction.atomic():  # one notice per call and trading day
        Notice.objects.create(
            call=debit_call, account=debit_call.account, kind="debit", key="again", day=dt.date(2026, 12, 24)
        )
    # A debit notice counts for its day, as the trigger and daily ones do (the database lets it carry one).
    Notice.objects.create(
        call=debit_call, account=debit_call.account, kind="debit", key="next", day=dt.date(2026, 12, 28)
    )
