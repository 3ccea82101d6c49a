"""The PostgreSQL engine's exact sums per account and the instrument valuations they are at (see
AccountRisk.exact_cash and InstrumentValuation). Triggers clear an account's sums (exact_cash NULL)
whenever its positions or cash change, or an FX rate its cash is in: those accounts are recomputed from
their book, never moved by a price difference on sums that no longer match it. Elsewhere (SQLite) the
pure engine recomputes every account from its book and nothing here is used."""

import django.db.models.deletion
import risk.models
from django.db import migrations, models


STALE = """CREATE FUNCTION risk_exact_sums_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE risk_accountrisk SET exact_cash = NULL
        WHERE exact_cash IS NOT NULL AND account_id IN (SELECT account_id FROM new_rows);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE risk_accountrisk SET exact_cash = NULL
        WHERE exact_cash IS NOT NULL AND account_id IN (SELECT account_id FROM old_rows);
    END IF;
    RETURN NULL;
END $$"""
STALE_FX = """CREATE FUNCTION risk_exact_sums_stale_fx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE risk_accountrisk SET exact_cash = NULL
    WHERE exact_cash IS NOT NULL AND account_id IN (
        SELECT account_id FROM book_cashbalance WHERE currency IN (
            SELECT currency FROM new_rows UNION SELECT currency FROM old_rows));
    RETURN NULL;
END $$"""
STALE_FX_ONE_SIDE = STALE_FX.replace("risk_exact_sums_stale_fx()", "risk_exact_sums_stale_fx_{side}()").replace(
    "SELECT currency FROM new_rows UNION SELECT currency FROM old_rows", "SELECT currency FROM {side}_rows"
)
TRANSITIONS = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}


def _triggers():
    yield STALE
    for table in ("book_position", "book_cashbalance"):
        for event, tables in [*TRANSITIONS.items(), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")]:
            yield (
                f"CREATE TRIGGER {table}_{event.lower()}_exact_sums AFTER {event} ON {table}"
                f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION risk_exact_sums_stale()"
            )
    yield STALE_FX
    yield (
        "CREATE TRIGGER book_fxrate_update_exact_sums AFTER UPDATE ON book_fxrate"
        " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION risk_exact_sums_stale_fx()"
    )
    for event, tables in TRANSITIONS.items():
        side = tables.split()[-1].removesuffix("_rows")
        yield STALE_FX_ONE_SIDE.format(side=side)
        yield (
            f"CREATE TRIGGER book_fxrate_{event.lower()}_exact_sums AFTER {event} ON book_fxrate"
            f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION risk_exact_sums_stale_fx_{side}()"
        )
    # Room on each page for a row's next version: a pass rewrites the figures of every holder.
    yield "ALTER TABLE risk_accountrisk SET (fillfactor = 70)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _triggers():
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("book_position", "book_cashbalance", "book_fxrate"):
        for event in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_exact_sums ON {table}")
    for function in (
        "risk_exact_sums_stale",
        "risk_exact_sums_stale_fx",
        "risk_exact_sums_stale_fx_new",
        "risk_exact_sums_stale_fx_old",
    ):
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")
    schema_editor.execute("ALTER TABLE risk_accountrisk RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0003_account_search_indexes"),
        ("risk", "0009_call_desk"),
    ]

    operations = [
        migrations.CreateModel(
            name="InstrumentValuation",
            fields=[
                (
                    "instrument",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="book.instrument",
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                ("unit_value", risk.models.ExactSum(null=True)),
                ("illiquid", models.BooleanField()),
                ("long_im", risk.models.ExactSum(null=True)),
                ("long_mm", risk.models.ExactSum(null=True)),
                ("long_fm", risk.models.ExactSum(null=True)),
                ("short_im", risk.models.ExactSum(null=True)),
                ("short_mm", risk.models.ExactSum(null=True)),
                ("short_fm", risk.models.ExactSum(null=True)),
            ],
            options={
                "verbose_name": "instrument valuation",
                "verbose_name_plural": "instrument valuations",
            },
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_cash",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_fm",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_illiquid_mv",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_im",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_long_mv",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_mm",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="exact_short_mv",
            field=risk.models.ExactSum(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="accountrisk",
            name="open_positions",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(create, drop),
    ]
