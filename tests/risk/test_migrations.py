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


def _other_connection():
    import psycopg

    params = connection.get_connection_params()
    return psycopg.connect(**{key: value for key, value in params.items() if key != "cursor_factory"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_calls_by_account_index_is_built_while_calls_are_written(book):
    """0020 builds its index CONCURRENTLY: while the build waits for a transaction that is writing calls,
    another writer of calls goes on (a plain CREATE INDEX would hold it until the build ended)."""
    import threading

    from risk.models import MarginCall as Call
    from tests.migrations import migrate, migrate_to_latest

    first, second = Call.objects.order_by("pk").values_list("pk", flat=True)[:2]
    migrate([("risk", "0019_lists_read_in_order")])
    built = []

    def build():
        try:
            migrate([("risk", "0020_calls_by_account")])
            built.append(True)
        finally:
            connection.close()

    with _other_connection() as writing, _other_connection() as writer:
        writing.execute("UPDATE risk_margincall SET remark = remark WHERE id = %s", [first])  # left open
        builder = threading.Thread(target=build)
        builder.start()
        builder.join(0.5)
        assert builder.is_alive()  # the build waits for the open transaction
        writer.execute("SET lock_timeout = '2s'")
        writer.execute("UPDATE risk_margincall SET remark = 'written meanwhile' WHERE id = %s", [second])
        writer.commit()  # not held by the build
        writing.commit()
        builder.join(10)
    assert built == [True]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'margin_call_by_account'::regclass",
        )
        assert cursor.fetchone() == (True,)
    assert Call.objects.get(pk=second).remark == "written meanwhile"

    migrate([("risk", "0019_lists_read_in_order")])  # and back, concurrently too
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('margin_call_by_account')")
        assert cursor.fetchone() == (None,)
    migrate_to_latest()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_index_built_online_is_refused_inside_a_transaction():
    from django.db import NotSupportedError, models, transaction
    from django.db.migrations.state import ProjectState

    from console.online_indexes import AddIndexOnline
    from tests.migrations import migrate

    apps_state = ProjectState.from_apps(migrate([("risk", "0020_calls_by_account")]))
    operation = AddIndexOnline("margincall", models.Index(fields=["closed_at"], name="margin_call_test_online"))
    with (
        transaction.atomic(),
        connection.schema_editor(atomic=False) as editor,
        pytest.raises(NotSupportedError, match="atomic = False"),
    ):
        operation.database_forwards("risk", editor, apps_state, apps_state)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_index_left_invalid_by_a_failed_build_is_built_again():
    """A concurrent build that fails (cancelled, timed out) leaves an invalid index of the migration's
    name; running the migration again drops it and builds it, rather than stopping at "already exists"."""
    from tests.migrations import migrate, migrate_to_latest

    migrate([("risk", "0019_lists_read_in_order")])
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX margin_call_by_account ON risk_margincall (closed_at)"
        )  # a failed build's leftover
        cursor.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'margin_call_by_account'::regclass")

    migrate([("risk", "0020_calls_by_account")])

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indexrelid = 'margin_call_by_account'::regclass"
        )
        valid, definition = cursor.fetchone()
    assert valid
    assert "(account_id, closed_at)" in definition
    migrate_to_latest()
