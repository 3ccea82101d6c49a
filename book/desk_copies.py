"""Rows that carry their account's desk: a copy the database keeps in step, so a desk's lists filter one
table (joined to the accounts, a trader's list reads every account of the book to find its desks').

:func:`keep_desk` is a migration operation: triggers set the copy whenever a row is written or its path to
the account changes, and follow an account that moves desk (a save, a bulk update, the admin, an
import) and, where a row reaches its account through another table, a change of that table's account.
A row cannot be written onto another desk: the trigger puts its account's back. SQLite drops a
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
    # On PostgreSQL, a row written holds its account (FOR SHARE) until its transaction ends: an account
    # moving desk meanwhile waits for it and then moves it too, and a row written while an account moves
    # waits for the move and reads the new desk. (Calls are written under the recompute lock, which
    # every book write takes: they need no more.)
    lock_account: bool = False
    # A table between the row and its account (a delivery's notice): when its account changes, its
    # rows (``rows_of_parent``, of parent ``NEW.id``) take the new account's desk.
    parent: str = ""
    rows_of_parent: str = ""

    def account_desk(self, row: str, *, lock: bool = False) -> str:
        locked = " FOR SHARE" if lock else ""
        return f"(SELECT desk_id FROM book_account WHERE id = {self.account.format(row=row)}{locked})"

    def _desk_of_account(self) -> str:
        if not self.lock_account:
            return f"NEW.desk_id := {self.account_desk('NEW')};"
        # An update that keeps the row's account needs no lock: an account moving desk meanwhile
        # updates this row too, so one of the two waits for the other's row lock and reads after it.
        return f"""IF TG_OP = 'INSERT' OR NEW.{self.path} IS DISTINCT FROM OLD.{self.path} THEN
            NEW.desk_id := {self.account_desk("NEW", lock=True)};
        ELSE
            NEW.desk_id := {self.account_desk("NEW")};
        END IF;"""

    def _parent_desk(self) -> str:
        desk = "(SELECT desk_id FROM book_account WHERE id = NEW.account_id)"
        return f"UPDATE {self.table} SET desk_id = {desk} WHERE {self.rows_of_parent};"

    def postgresql(self) -> list[str]:
        table = self.table
        return [
            f"""CREATE FUNCTION {table}_desk_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {self._desk_of_account()}
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
            *self._postgresql_parent(),
        ]

    def _postgresql_parent(self) -> list[str]:
        if not self.parent:
            return []
        parent, name = self.parent, self.name
        return [
            f"""CREATE FUNCTION {parent}_account_to_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {self._parent_desk()}
        RETURN NULL;
    END $$""",
            f"""CREATE TRIGGER {parent}_account_to_{name} AFTER UPDATE OF account_id ON {parent}
    FOR EACH ROW WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id) EXECUTE FUNCTION {parent}_account_to_{name}()""",
        ]

    def postgresql_drop(self) -> list[str]:
        parent = [
            f"DROP TRIGGER IF EXISTS {self.parent}_account_to_{self.name} ON {self.parent}",
            f"DROP FUNCTION IF EXISTS {self.parent}_account_to_{self.name}()",
        ]
        return [
            *(parent if self.parent else []),
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
            *(
                [
                    f"""CREATE TRIGGER {self.parent}_account_to_{self.name} AFTER UPDATE OF account_id ON {self.parent}
    FOR EACH ROW WHEN NEW.account_id IS NOT OLD.account_id
    BEGIN {self._parent_desk()} END"""
                ]
                if self.parent
                else []
            ),
        ]

    def sqlite_drop(self) -> list[str]:
        return [
            *([f"DROP TRIGGER IF EXISTS {self.parent}_account_to_{self.name}"] if self.parent else []),
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
