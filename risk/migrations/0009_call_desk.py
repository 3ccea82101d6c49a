"""A call carries its account's desk, so a trader's lists filter the calls' table alone (joined to the
accounts, every list query read all 100,000 of them). The database keeps it in step: a trigger sets it
from the account whenever a call is written or its account or desk is changed, and another follows an
account that moves desk. The tests of ``tests/risk/test_call_desk.py`` fail if a later migration loses
them (SQLite drops a table's triggers when a migration rebuilds the table)."""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL = [
    """CREATE FUNCTION risk_margincall_desk_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.desk_id := (SELECT desk_id FROM book_account WHERE id = NEW.account_id);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER risk_margincall_desk BEFORE INSERT OR UPDATE OF account_id, desk_id ON risk_margincall
    FOR EACH ROW EXECUTE FUNCTION risk_margincall_desk_of_account()""",
    """CREATE FUNCTION book_account_desk_to_calls() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE risk_margincall SET desk_id = NEW.desk_id WHERE account_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER book_account_desk_to_calls AFTER UPDATE OF desk_id ON book_account
    FOR EACH ROW WHEN (OLD.desk_id IS DISTINCT FROM NEW.desk_id) EXECUTE FUNCTION book_account_desk_to_calls()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS book_account_desk_to_calls ON book_account",
    "DROP FUNCTION IF EXISTS book_account_desk_to_calls()",
    "DROP TRIGGER IF EXISTS risk_margincall_desk ON risk_margincall",
    "DROP FUNCTION IF EXISTS risk_margincall_desk_of_account()",
]
# SQLite cannot change the row being written: its triggers write the desk just after.
ACCOUNT_DESK = "(SELECT desk_id FROM book_account WHERE id = NEW.account_id)"
SQLITE = [
    f"""CREATE TRIGGER risk_margincall_desk_insert AFTER INSERT ON risk_margincall FOR EACH ROW
    BEGIN UPDATE risk_margincall SET desk_id = {ACCOUNT_DESK} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER risk_margincall_desk_update AFTER UPDATE OF account_id, desk_id ON risk_margincall
    FOR EACH ROW WHEN NEW.desk_id IS NOT {ACCOUNT_DESK}
    BEGIN UPDATE risk_margincall SET desk_id = {ACCOUNT_DESK} WHERE id = NEW.id; END""",
    """CREATE TRIGGER book_account_desk_to_calls AFTER UPDATE OF desk_id ON book_account
    FOR EACH ROW WHEN NEW.desk_id IS NOT OLD.desk_id
    BEGIN UPDATE risk_margincall SET desk_id = NEW.desk_id WHERE account_id = NEW.id; END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS book_account_desk_to_calls",
    "DROP TRIGGER IF EXISTS risk_margincall_desk_update",
    "DROP TRIGGER IF EXISTS risk_margincall_desk_insert",
]


def create(apps, schema_editor):
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement)
    schema_editor.execute(
        "UPDATE risk_margincall SET desk_id = (SELECT desk_id FROM book_account WHERE id = risk_margincall.account_id)"
    )


def drop(apps, schema_editor):
    statements = POSTGRESQL_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0003_account_search_indexes"),
        ("risk", "0008_figures_changed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="margincall",
            name="desk",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="book.desk",
                verbose_name="desk",
            ),
        ),
        migrations.RunPython(create, drop),
    ]
