"""Snapshots and audit entries are kept for compliance: PostgreSQL refuses to update or delete them."""

from django.db import migrations

TABLES = ("risk_callsnapshot", "risk_auditentry")

FUNCTION = """
CREATE OR REPLACE FUNCTION margincall_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are kept for compliance: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION margincall_refuse_change()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS margincall_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("risk", "0003_margin_calls")]
    operations = [migrations.RunPython(create, drop)]
