"""Figures rows leave room on their page for their next version.

A recompute pass rewrites every holder's figures row (a third of the book when a popular stock moves);
each rewrite is a new row version. With free space on the row's page, PostgreSQL writes it there and
leaves the indexes alone (a heap-only update); on a full page it writes the version elsewhere and adds
an entry to every index. Migration 0010 filled the pages to 70%: room for the next version of fewer
than half of a page's rows. Filled to half, every row's next version fits: rewriting 81,000 rows of a
100,000-account book takes 180-210 ms instead of 350-400 ms (``bench.tick_storm`` prints this floor).

The setting applies to pages written from now on; ``VACUUM FULL risk_accountrisk`` applies it to the
whole table at once. Elsewhere (SQLite) nothing changes."""

from django.db import migrations

FILLFACTOR = 50
BEFORE = 70  # migration 0010's


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE risk_accountrisk SET (fillfactor = {FILLFACTOR})")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE risk_accountrisk SET (fillfactor = {BEFORE})")


class Migration(migrations.Migration):
    dependencies = [("risk", "0011_book_writes_take_recompute_lock")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
