"""The notices' migrations do to a stored database what they say."""

import pytest

from tests.migrations import migrate, migrate_to_latest

BEFORE = [("notices", "0004_recovery_templates")]
AFTER = [("notices", "0005_force_call_notice_in_chinese")]


@pytest.mark.django_db(transaction=True)
def test_the_shipped_chinese_force_call_notice_moves_to_the_new_text_and_an_edited_one_stays():
    from importlib import import_module

    shipped = import_module("notices.migrations.0005_force_call_notice_in_chinese").BEFORE
    try:
        apps = migrate(BEFORE)
        Template = apps.get_model("notices", "NoticeTemplate")
        subject, email, short = shipped["zh-hant"]
        # as a database made before holds them (a test before this one may have emptied the table)
        for channel, (title, body) in {"email": (subject, email), "sms": ("", short), "voice": ("", "edited")}.items():
            Template.objects.update_or_create(
                kind="force_call", language="zh-hant", channel=channel, defaults={"subject": title, "body": body}
            )

        apps = migrate(AFTER)

        Template = apps.get_model("notices", "NoticeTemplate")
        texts = dict(Template.objects.filter(kind="force_call", language="zh-hant").values_list("channel", "body"))
        assert "已跌至強制平倉水平" in texts["email"]
        assert "已跌至強制平倉水平" in texts["sms"]
        assert texts["voice"] == "edited"  # an admin's text is left as it is
        email_row = Template.objects.get(kind="force_call", language="zh-hant", channel="email")
        assert email_row.subject == "帳戶 {account} 緊急追加保證金通知"
    finally:
        migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_debit_notices_go_back_to_the_trigger_and_daily_notices_they_stood_for(import_book, worked_book):
    """The worked book's I200001 is a debit call: its opening notice is a debit one. Migrated back before
    the debit kind (whose database allows a trading day only on trigger and daily notices), it is its
    trigger notice again, and the debit texts go; forward again, they are back."""
    from notices.models import Notice, NoticeTemplate

    import_book(worked_book)
    Notice.objects.create(
        call_id=Notice.objects.get(kind="debit").call_id,
        account_id=Notice.objects.get(kind="debit").account_id,
        kind="debit",
        key="daily:2026-12-24",
        day="2026-12-24",
    )
    try:
        apps = migrate([("notices", "0007_covered_call_messages")])

        Back = apps.get_model("notices", "Notice")
        assert sorted(Back.objects.filter(account__account_no="I200001").values_list("kind", "key")) == [
            ("daily", "daily:2026-12-24"),
            ("trigger", "trigger"),
        ]
        assert not apps.get_model("notices", "NoticeTemplate").objects.filter(kind="debit").exists()
    finally:
        migrate_to_latest()
    assert NoticeTemplate.objects.filter(kind="debit").count() == 9
