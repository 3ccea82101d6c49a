import pytest

from console.text import first_few


@pytest.mark.parametrize(
    ("names", "shown", "separator", "said"),
    [
        (["M1", "M2"], 5, ", ", "M1, M2"),
        ([f"M{n}" for n in range(1, 8)], 5, ", ", "M1, M2, M3, M4, M5, …"),
        (["M1: too large", "M2: no FX rate"], 1, "; ", "M1: too large; …"),
        ([], 5, ", ", ""),
    ],
)
def test_a_message_names_the_first_few_and_says_when_there_are_more(names, shown, separator, said):
    assert first_few(iter(names), shown, separator) == said


def test_an_audit_entry_is_named_by_its_time_in_hong_kong_as_its_time_field_shows_it():
    import datetime as dt

    from console.models import AuditEntry

    entry = AuditEntry(at=dt.datetime(2026, 12, 7, 9, 10, 50, tzinfo=dt.UTC), action="cancel_order", outcome="ok")

    assert str(entry) == "2026-12-07 17:10:50 Cancel orders ok"


def test_the_audit_log_names_its_actions_in_the_reader_s_language(db):
    """The admin's audit log lists what was done by name ("結束追收單"), not by the code it stores."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    from console import audit

    root = User.objects.create_superuser("root", "root@example.com", "pw")
    for action in ("end_call", "set_auto_liquidation", "admin_change", "send_notice", "someday_new"):
        audit.record(root, action)
    client = Client()
    client.force_login(root)
    client.cookies["django_language"] = "zh-hant"

    page = client.get(reverse("admin:console_auditentry_changelist")).content.decode()
    filtered = client.get(reverse("admin:console_auditentry_changelist"), {"action": "end_call"}).content.decode()

    for name in ("結束追收單", "設定自動平倉時間", "在管理後台修改", "發送通知"):
        assert name in page
    assert ">end_call<" not in page
    assert ">someday_new<" in page  # an action with no name is shown as stored
    assert "?action=end_call" in page  # the filter, by name, keeps the code in its link
    assert "結束追收單" in filtered.split('id="result_list"')[1]
    assert "發送通知" not in filtered.split('id="result_list"')[1]
    searched = client.get(reverse("admin:console_auditentry_changelist"), {"q": "結束"}).content.decode()
    rows = searched.split('id="result_list"')[1]
    assert "結束追收單" in rows  # found by the name shown, not only by the stored code
    assert "發送通知" not in rows
