"""Data migrations do to a stored database what they say."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from book.models import Account, Desk


@pytest.mark.django_db(transaction=True)
def test_a_rule_sets_long_outstanding_days_beyond_ten_years_come_down_to_ten():
    before, after = (
        [("risk", "0012_figures_room_to_update_in_place")],
        [("risk", "0013_long_outstanding_at_most_ten_years")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    RuleSet = executor.loader.project_state(before).apps.get_model("risk", "RuleSet")
    RuleSet.objects.filter(account_kind="margin").update(long_outstanding_days=30_000)
    RuleSet.objects.filter(account_kind="cash").update(long_outstanding_days=90)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    RuleSet = executor.loader.project_state(after).apps.get_model("risk", "RuleSet")
    days = dict(RuleSet.objects.values_list("account_kind", "long_outstanding_days"))
    assert (days["margin"], days["cash"]) == (3650, 90)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_auto_liquidation_note_is_kept_in_each_language_and_back(book):
    """Before 0017 a note was one text, in the default language; after, one text per language."""
    from risk.models import MarginCall as Call
    from tests.migrations import migrate, migrate_to_latest

    call = Call.objects.get(account__account_no="M100001")

    apps = migrate([("risk", "0016_price_deviation_limit")])
    MarginCall = apps.get_model("risk", "MarginCall")
    MarginCall.objects.filter(pk=call.pk).update(auto_liquidation_note="2026-12-23 12:30 waiting: HKEX is not trading")

    apps = migrate([("risk", "0017_auto_liquidation_note_languages")])
    MarginCall = apps.get_model("risk", "MarginCall")
    assert MarginCall.objects.get(pk=call.pk).auto_liquidation_note == {
        "en": "2026-12-23 12:30 waiting: HKEX is not trading"
    }
    assert all(
        note == {} for note in MarginCall.objects.exclude(pk=call.pk).values_list("auto_liquidation_note", flat=True)
    )
    MarginCall.objects.filter(pk=call.pk).update(auto_liquidation_note={"zh-hant": "等待中：港交所不在交易時段"})

    apps = migrate([("risk", "0016_price_deviation_limit")])  # back: one text, the default's or else any
    assert (
        apps.get_model("risk", "MarginCall").objects.get(pk=call.pk).auto_liquidation_note
        == "等待中：港交所不在交易時段"
    )
    migrate_to_latest()
    # The calls' desk triggers (0009), which SQLite drops with a table it rebuilds, are there again.
    Account.objects.filter(pk=call.account_id).update(desk=Desk.objects.create(code="ZZ"))
    call.refresh_from_db()
    assert call.desk.code == "ZZ"
