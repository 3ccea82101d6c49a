"""The recompute's figures as one PostgreSQL statement: read the book, compute, round, store.

This is :mod:`risk.calculations` written in SQL, for speed: a whole book or a hot stock's thousands of
holders in one statement, with no row crossing into Python. The pure module stays the reference:
``tests/risk/test_sql_engine.py`` checks, over random books, that this statement stores exactly what
the pure engine computes and rounds. Each expression below names the function it follows.

PostgreSQL's ``numeric`` is exact for sums and products, which is what the pure engine's 50-digit
context gives on any book whose figures fit their columns. Its ``round(x, 2)`` rounds half away from
zero, as :func:`~risk.calculations.round_money` does (``ROUND_HALF_UP``). The one quotient (the net
asset ratio) is rounded from exact integers, never from a truncated division.

Accounts this statement cannot store (a currency with no FX rate, a figure too large for its column)
are left out and returned; the caller runs them through the pure engine, which says why in its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection

from book.models import Account, CashBalance, FxRate, Instrument, Position

from .calculations import DEBIT, EXCESS_FINANCING, FORCE_CALL, HKD, ILLIQUID_STATUSES, MARGIN_CALL
from .models import CALL_KINDS, AccountRisk, MarginCall, RuleSet

# Money columns hold |x| < 10**(max_digits - decimal_places); the ratio's likewise.
_MONEY = AccountRisk._meta.get_field("total_cash")
_RATIO = AccountRisk._meta.get_field("nav_ratio")
MONEY_LIMIT = 10 ** (_MONEY.max_digits - _MONEY.decimal_places)
RATIO_LIMIT = 10 ** (_RATIO.max_digits - _RATIO.decimal_places)

MONEY_FIGURES = [name for name in AccountRisk.FIGURE_FIELDS if name not in ("nav_ratio", "call_type")]


def available() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Stored:
    accounts: int  # accounts stored
    positions: int  # their positions
    moved: list[int]  # accounts whose stored figures changed
    refused: list[int]  # accounts not stored (the pure engine says why)
    account_ids: list[int]  # every account read
    to_sync: list[int]  # those called now or with a call open: the only ones whose calls may change


def _statement(account_filter: str) -> str:
    quote = connection.ops.quote_name
    account, position, cash = (quote(model._meta.db_table) for model in (Account, Position, CashBalance))
    instrument, fx, rules, risk = (quote(model._meta.db_table) for model in (Instrument, FxRate, RuleSet, AccountRisk))
    calls = quote(MarginCall._meta.db_table)
    illiquid = ", ".join(f"'{status}'" for status in sorted(ILLIQUID_STATUSES))
    call_kinds = ", ".join(f"'{kind}'" for kind in CALL_KINDS)
    # fx_rate(): HKD is 1 whatever the table says; any other currency needs its rate (NULL: none).
    rate = "CASE WHEN {currency} = '" + HKD + "' THEN 1 ELSE {rate} END"
    money = ", ".join(f"round({name}, 2) AS {name}" for name in MONEY_FIGURES)
    too_large = " OR ".join(f"abs({name}) >= {MONEY_LIMIT}" for name in MONEY_FIGURES)
    columns = ", ".join(AccountRisk.FIGURE_FIELDS)
    figures = ", ".join(f"r.{name}" for name in AccountRisk.FIGURE_FIELDS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in [*AccountRisk.FIGURE_FIELDS, "computed_at"])
    old = ", ".join(f"old.{name}" for name in AccountRisk.FIGURE_FIELDS)
    return f"""
WITH accounts AS (
    SELECT a.id, a.kind, a.credit_limit, a.accrued_interest, a.debt_margin, a.trading_limit,
           COALESCE(rules.call_coefficient, 1) AS coefficient
    FROM {account} a LEFT JOIN {rules} rules ON rules.account_kind = a.kind
    WHERE {account_filter.format(column="a.id")}
),
holdings AS (  -- figures_from_valuations(): a holding's value is unit value x quantity, its margins
               -- gross value x rate (the same exact product, taken per unit first)
    SELECT p.account_id,
           count(*) AS positions,
           count(*) FILTER (WHERE p.quantity <> 0) AS open_positions,
           min(v.currency) FILTER (WHERE v.no_rate) AS missing_currency,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity > 0), 0) AS long_mv,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity < 0), 0) AS short_mv,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity > 0 AND v.illiquid), 0) AS illiquid_mv,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_im
                             ELSE -p.quantity * v.short_im END), 0) AS im,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_mm
                             ELSE -p.quantity * v.short_mm END), 0) AS mm,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_fm
                             ELSE -p.quantity * v.short_fm END), 0) AS fm
    FROM {position} p
    JOIN (  -- value_instrument(): HKD per unit held, and per unit of each margin, long and short
        SELECT i.id, i.currency, v.unit_value IS NULL AS no_rate, v.illiquid, v.unit_value,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE i.im_rate END AS long_im,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE i.mm_rate END AS long_mm,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE i.fm_rate END AS long_fm,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE COALESCE(i.short_im_rate, i.im_rate) END AS short_im,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE COALESCE(i.short_mm_rate, i.mm_rate) END AS short_mm,
               v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE COALESCE(i.short_fm_rate, i.fm_rate) END AS short_fm
        FROM {instrument} i
        LEFT JOIN {fx} fx ON fx.currency = i.currency
        CROSS JOIN LATERAL (
            SELECT i.price * i.multiplier * ({rate.format(currency="i.currency", rate="fx.rate")}) AS unit_value,
                   i.status IN ({illiquid}) AS illiquid
        ) v
        OFFSET 0  -- each instrument valued once, not once per position
    ) v ON v.id = p.instrument_id
    WHERE {account_filter.format(column="p.account_id")}
    GROUP BY p.account_id
),
cash AS (  -- total_cash_hkd()
    SELECT c.account_id,
           sum(c.amount * ({rate.format(currency="c.currency", rate="fx.rate")})) AS total_cash,
           min(c.currency) FILTER (WHERE ({rate.format(currency="c.currency", rate="fx.rate")}) IS NULL)
               AS missing_currency
    FROM {cash} c LEFT JOIN {fx} fx ON fx.currency = c.currency
    WHERE {account_filter.format(column="c.account_id")}
    GROUP BY c.account_id
),
totals AS MATERIALIZED (  -- Totals, and what figures_from_totals() and cover() derive first
    SELECT a.*, COALESCE(h.positions, 0) AS positions, COALESCE(h.open_positions, 0) AS open_positions,
           COALESCE(h.missing_currency, c.missing_currency) AS missing_currency,
           COALESCE(c.total_cash, 0) AS total_cash,
           COALESCE(h.long_mv, 0) AS long_mv, COALESCE(h.short_mv, 0) AS short_mv,
           COALESCE(h.illiquid_mv, 0) AS illiquid_mv,
           COALESCE(h.im, 0) AS im, COALESCE(h.mm, 0) AS mm, COALESCE(h.fm, 0) AS fm,
           COALESCE(c.total_cash, 0) + COALESCE(h.long_mv, 0) + COALESCE(h.short_mv, 0) AS equity,
           a.accrued_interest + a.debt_margin - a.trading_limit AS charges
    FROM accounts a
    LEFT JOIN holdings h ON h.account_id = a.id
    LEFT JOIN cash c ON c.account_id = a.id
),
exact AS MATERIALIZED (  -- figures_from_totals()
    SELECT t.*,
           equity - illiquid_mv AS liquid_nav,
           long_mv - illiquid_mv - short_mv AS exposure,
           GREATEST(0, -total_cash) AS loan,
           GREATEST(0, GREATEST(0, -total_cash) - credit_limit) AS excess_financing,
           mm * coefficient - equity + charges AS margin_shortfall,
           fm - equity + charges AS force_shortfall
    FROM totals t
),
decided AS MATERIALIZED (
    SELECT e.*,
           GREATEST(liquid_nav, exposure) AS denominator,
           GREATEST(0, margin_shortfall, excess_financing) AS call_amount,
           CASE WHEN open_positions = 0 AND equity - accrued_interest < 0 THEN '{DEBIT}'
                WHEN force_shortfall > 0 THEN '{FORCE_CALL}'
                WHEN margin_shortfall > 0 THEN '{MARGIN_CALL}'
                WHEN excess_financing > 0 THEN '{EXCESS_FINANCING}'
                ELSE '' END AS call_type
    FROM exact e
),
rounded AS MATERIALIZED (  -- round_figures(): money half up to the cent; the ratio half up to 4 places, exactly
    SELECT id, kind, positions, missing_currency, call_type, {money},
           CASE WHEN denominator > 0 THEN round(
               sign(liquid_nav) * div(abs(liquid_nav) * 20000 + denominator, 2 * denominator) / 10000, 4)
           END AS nav_ratio
    FROM decided
),
checked AS (
    SELECT r.*, (missing_currency IS NOT NULL OR {too_large}
                 OR abs(COALESCE(nav_ratio, 0)) >= {RATIO_LIMIT}) AS refused
    FROM rounded r
),
compared AS (
    SELECT r.*, old.account_id IS NULL OR ({old}) IS DISTINCT FROM ({figures}) AS moved
    FROM checked r LEFT JOIN {risk} old ON old.account_id = r.id
),
stored AS (  -- only figures that changed are written: computed_at is when they last changed
    INSERT INTO {risk} (account_id, {columns}, computed_at)
    SELECT r.id, {figures}, %(now)s FROM compared r WHERE r.moved AND NOT r.refused
    ON CONFLICT (account_id) DO UPDATE SET {updates}
    RETURNING account_id
)
SELECT r.id, r.refused, r.positions, r.moved,
       -- what sync_calls() has to look at: an account called now, or with a call open
       r.refused OR (r.call_type <> '' AND r.call_amount > 0 AND r.kind IN ({call_kinds}))
           OR open_call.account_id IS NOT NULL AS to_sync
FROM compared r
LEFT JOIN (SELECT account_id FROM {calls} WHERE closed_at IS NULL) open_call ON open_call.account_id = r.id
"""


_STATEMENTS: dict[str, str] = {}


def store_figures(lookups: dict, *, now: datetime) -> Stored:
    """Compute, round and store the figures of the accounts these lookups cover (ids ``{"gte", "lte"}``
    or ``{"in"}``, or the holders of instruments ``{"holders_of"}``), in the caller's transaction.
    Returns what it stored and what it refused."""
    if "holders_of" in lookups:
        key, params = "holders_of", {"instruments": list(lookups["holders_of"])}
        account_filter = (
            f"{{column}} IN (SELECT account_id FROM {connection.ops.quote_name(Position._meta.db_table)}"
            " WHERE instrument_id = ANY(%(instruments)s))"
        )
    elif "in" in lookups:
        key, account_filter, params = "in", "{column} = ANY(%(ids)s)", {"ids": list(lookups["in"])}
    else:
        key = "range"
        account_filter = "{column} BETWEEN %(low)s AND %(high)s"
        params = {"low": lookups["gte"], "high": lookups["lte"]}
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = _statement(account_filter)
    with connection.cursor() as cursor:
        # The holdings' aggregate sorts or hashes a row per position: in memory, not spilled to disk.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RECOMPUTE_WORK_MEM])
        cursor.execute(statement, {**params, "now": now})
        rows = cursor.fetchall()
    stored = Stored(0, 0, [], [], [row[0] for row in rows], [row[0] for row in rows if row[4]])
    for account_id, refused, positions, moved, _to_sync in rows:
        if refused:
            stored.refused.append(account_id)
            continue
        stored.accounts += 1
        stored.positions += positions
        if moved:
            stored.moved.append(account_id)
    return stored
