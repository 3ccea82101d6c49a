"""Trigram indexes for the call lists' search (an account number's start, a part of the client's name)
on PostgreSQL: without them each search reads every account. Elsewhere (SQLite) nothing is done."""

from django.db import migrations

INDEXES = {
    "book_account_no_trgm": "upper(account_no::text)",
    "book_account_name_trgm": "upper(name::text)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON book_account USING gin (({expression}) gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("book", "0002_instrument_shortable")]

    operations = [migrations.RunPython(create, drop)]
