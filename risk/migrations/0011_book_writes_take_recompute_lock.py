"""Book writes and recomputes take their locks in one order.

A write to positions, cash or FX rates clears the sums of the accounts it touches (migration 0010),
which locks their figures rows; the writer then recomputes them, under the recompute lock. A pass holds
that lock and writes its holders' figures rows: a writer holding a row the pass needs while waiting for
the lock the pass holds was a deadlock. The triggers now take the recompute lock
(``risk.services.RECOMPUTE_LOCK_KEY``) before any figures row, so a book write waits for a running
pass and never holds a row it needs.

An account moving desk takes the recompute lock too, before it moves its calls: a call a recompute is
writing meanwhile is committed first, and then moved (without it, that call kept the old desk), and a
recompute that starts after the move reads the new desk.

Elsewhere (SQLite, which serialises writers) nothing changes."""

from importlib import import_module

from django.db import migrations

exact_sums = import_module("risk.migrations.0010_exact_sums")
call_desk = import_module("risk.migrations.0009_call_desk")

RECOMPUTE_LOCK_KEY = 0x6D63_7263  # risk.services.RECOMPUTE_LOCK_KEY (tests/risk/test_locks.py checks they agree)
LOCK = f"BEGIN\n    PERFORM pg_advisory_xact_lock({RECOMPUTE_LOCK_KEY});"

STALE_FUNCTIONS_BEFORE = [
    exact_sums.STALE,
    exact_sums.STALE_FX,
    *(exact_sums.STALE_FX_ONE_SIDE.format(side=side) for side in ("new", "old")),
]
DESK_BEFORE = call_desk.POSTGRESQL[2]


def _replace(definition: str) -> str:
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for definition in STALE_FUNCTIONS_BEFORE:
        assert definition.count("BEGIN") == 1
        schema_editor.execute(_replace(definition.replace("BEGIN", LOCK, 1)))
    assert DESK_BEFORE.count("BEGIN") == 1
    schema_editor.execute(_replace(DESK_BEFORE.replace("BEGIN", LOCK, 1)))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for definition in [*STALE_FUNCTIONS_BEFORE, DESK_BEFORE]:
        schema_editor.execute(_replace(definition))


class Migration(migrations.Migration):
    dependencies = [("risk", "0010_exact_sums")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
