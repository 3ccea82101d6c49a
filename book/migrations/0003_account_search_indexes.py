"""Indexes for the call lists' search on PostgreSQL (an account number's start: a pattern index; a part
of the client's name: a trigram index): without them each search reads every account. Elsewhere
(SQLite) nothing is done."""

from django.db import migrations

INDEXES = {
    "book_account_no_prefix": "btree ((upper(account_no::text)) text_pattern_ops)",
    "book_account_name_trgm": "gin ((upper(name::text)) gin_trgm_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, method in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON book_account USING {method}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("book", "0002_instrument_shortable")]

    operations = [migrations.RunPython(create, drop)]
