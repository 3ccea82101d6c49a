"""Rows kept for compliance (audit entries, call snapshots): on PostgreSQL a trigger refuses to update
or delete them, whatever the path. Each app protects its own tables by migration with
:func:`protect`."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION margincall_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are kept for compliance: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def protect(*tables: str) -> migrations.RunPython:
    """A migration operation that makes these tables append-only on PostgreSQL."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION margincall_refuse_change()"
            )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")

    return migrations.RunPython(create, drop)
