"""Rows that carry their account's desk: a copy the database keeps in step, so a desk's lists filter one
table (joined to the accounts, a trader's list reads every account of the book to find its desks').

:func:`keep_desk` is a migration operation: triggers set the copy whenever a row is written or its path to
the account changes, and follow an account that moves desk (a save, a bulk update, the admin, an
import). A row cannot be written onto another desk: the trigger puts its account's back. SQLite drops a
table's triggers when a migration rebuilds the table; each table's tests fail if a later migration loses
them."""

from dataclasses import dataclass

from django.db import migrations


@dataclass(frozen=True)
class DeskCopy:
    table: str  # the table whose rows carry the desk (its column: desk_id)
    name: str  # what its rows are, in the account trigger's name: book_account_desk_to_<name>
    account: str  # SQL: a row's account id, ``{row}`` standing for the row (NEW in a trigger)
    path: str  # the row's columns its account is reached by (a trigger follows their changes)
    rows_of_account: str  # SQL: the condition of the rows of account ``NEW.id``

    def account_desk(self, row: str) -> str:
        return f"(SELECT desk_id FROM book_account WHERE id = {self.account.format(row=row)})"

    def postgresql(self) -> list[str]:
        table = self.table
        return [
            f"""CREATE FUNCTION {table}_desk_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.desk_id := {self.account_desk("NEW")};
        RETURN NEW;
    END $$""",
            f"""CREATE TRIGGER {table}_desk BEFORE INSERT OR UPDATE OF {self.path}, desk_id ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_desk_of_account()""",
            f"""CREATE FUNCTION book_account_desk_to_{self.name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {table} SET desk_id = NEW.desk_id WHERE {self.rows_of_account};
        RETURN NULL;
    END $$""",
            f"""CREATE TRIGGER book_account_desk_to_{self.name} AFTER UPDATE OF desk_id ON book_account
    FOR EACH ROW WHEN (OLD.desk_id IS DISTINCT FROM NEW.desk_id) EXECUTE FUNCTION book_account_desk_to_{self.name}()""",
        ]

    def postgresql_drop(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS book_account_desk_to_{self.name} ON book_account",
            f"DROP FUNCTION IF EXISTS book_account_desk_to_{self.name}()",
            f"DROP TRIGGER IF EXISTS {self.table}_desk ON {self.table}",
            f"DROP FUNCTION IF EXISTS {self.table}_desk_of_account()",
        ]

    def sqlite(self) -> list[str]:
        # SQLite cannot change the row being written: its triggers write the desk just after.
        table, desk = self.table, self.account_desk("NEW")
        return [
            f"""CREATE TRIGGER {table}_desk_insert AFTER INSERT ON {table} FOR EACH ROW
    BEGIN UPDATE {table} SET desk_id = {desk} WHERE id = NEW.id; END""",
            f"""CREATE TRIGGER {table}_desk_update AFTER UPDATE OF {self.path}, desk_id ON {table}
    FOR EACH ROW WHEN NEW.desk_id IS NOT {desk}
    BEGIN UPDATE {table} SET desk_id = {desk} WHERE id = NEW.id; END""",
            f"""CREATE TRIGGER book_account_desk_to_{self.name} AFTER UPDATE OF desk_id ON book_account
    FOR EACH ROW WHEN NEW.desk_id IS NOT OLD.desk_id
    BEGIN UPDATE {table} SET desk_id = NEW.desk_id WHERE {self.rows_of_account}; END""",
        ]

    def sqlite_drop(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS book_account_desk_to_{self.name}",
            f"DROP TRIGGER IF EXISTS {self.table}_desk_update",
            f"DROP TRIGGER IF EXISTS {self.table}_desk_insert",
        ]


def keep_desk(copy: DeskCopy) -> migrations.RunPython:
    """Create the triggers that keep ``copy.table``'s desk in step, and set it on the rows there are."""

    def create(apps, schema_editor):
        postgresql = schema_editor.connection.vendor == "postgresql"
        for statement in copy.postgresql() if postgresql else copy.sqlite():
            schema_editor.execute(statement)
        schema_editor.execute(f"UPDATE {copy.table} SET desk_id = {copy.account_desk(copy.table)}")

    def drop(apps, schema_editor):
        postgresql = schema_editor.connection.vendor == "postgresql"
        for statement in copy.postgresql_drop() if postgresql else copy.sqlite_drop():
            schema_editor.execute(statement)

    return migrations.RunPython(create, drop)
