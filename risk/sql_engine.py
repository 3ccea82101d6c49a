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

A price's change does not reread its holders' books. Each account keeps its exact sums (cash, market
values, margins: ``AccountRisk.exact_*``) at the stored valuation of each instrument
(:class:`~risk.models.InstrumentValuation`). The follow statement values the instruments at their
current terms, and for those whose valuation changed adds, to each holder's sums, the difference per
unit times the quantity held, stores the new valuations, and derives and stores the figures from the
sums, all in one transaction under the recompute lock. Sums and differences are exact, so the sums
stay equal to what a recompute from the book gives. An account whose book changed has no valid sums
(the database's triggers clear them) and is recomputed from its book, at the stored valuations, as is
a holder of an instrument that has or had no FX rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection

from book.models import Account, CashBalance, FxRate, Instrument, Position

from .calculations import DEBIT, EXCESS_FINANCING, FORCE_CALL, HKD, ILLIQUID_STATUSES, MARGIN_CALL
from .models import CALL_KINDS, AccountRisk, InstrumentValuation, MarginCall, RuleSet

# Money columns hold |x| < 10**(max_digits - decimal_places); the ratio's likewise.
_MONEY = AccountRisk._meta.get_field("total_cash")
_RATIO = AccountRisk._meta.get_field("nav_ratio")
MONEY_LIMIT = 10 ** (_MONEY.max_digits - _MONEY.decimal_places)
RATIO_LIMIT = 10 ** (_RATIO.max_digits - _RATIO.decimal_places)

MONEY_FIGURES = [name for name in AccountRisk.FIGURE_FIELDS if name not in ("nav_ratio", "call_type")]
# The exact sums kept per account, by the name of the total they hold.
EXACT_SUMS = {
    "total_cash": "exact_cash",
    "long_mv": "exact_long_mv",
    "short_mv": "exact_short_mv",
    "illiquid_mv": "exact_illiquid_mv",
    "im": "exact_im",
    "mm": "exact_mm",
    "fm": "exact_fm",
}
PER_UNIT = ("long_im", "long_mm", "long_fm", "short_im", "short_mm", "short_fm")


def available() -> bool:
    return connection.vendor == "postgresql"


@dataclass
class Stored:
    accounts: int  # accounts stored
    positions: int  # their positions read
    moved: list[int]  # accounts whose stored figures changed
    refused: list[int]  # accounts not stored (the pure engine says why)
    account_ids: list[int]  # every account read
    to_sync: list[int]  # those called now or with a call open: the only ones whose calls may change
    # Holders of prices that moved, outside the lookups (not counted): before a recompute from the book
    # reads the stored valuations, every price move is followed for every holder.
    beyond: set[int] = field(default_factory=set)


def _tables() -> dict:
    quote = connection.ops.quote_name
    models = {
        "account": Account,
        "position": Position,
        "cash": CashBalance,
        "instrument": Instrument,
        "fx": FxRate,
        "rules": RuleSet,
        "risk": AccountRisk,
        "calls": MarginCall,
        "valuation": InstrumentValuation,
    }
    return {name: quote(model._meta.db_table) for name, model in models.items()}


# fx_rate(): HKD is 1 whatever the table says; any other currency needs its rate (NULL: none).
RATE = "CASE WHEN {currency} = '" + HKD + "' THEN 1 ELSE {rate} END"
ACCOUNT_TERMS = (
    "a.kind, a.credit_limit, a.accrued_interest, a.debt_margin, a.trading_limit,"
    " COALESCE(rules.call_coefficient, 1) AS coefficient"
)


def _current_valuations(instrument_filter: str) -> str:
    """value_instrument(): each instrument's HKD per unit held, and per unit of each margin, long and
    short, at its current terms."""
    t = _tables()
    illiquid = ", ".join(f"'{status}'" for status in sorted(ILLIQUID_STATUSES))
    margins = ", ".join(
        f"v.unit_value * CASE WHEN v.illiquid THEN 1 ELSE {rate} END AS {name}"
        for name, rate in zip(
            PER_UNIT,
            (
                "i.im_rate",
                "i.mm_rate",
                "i.fm_rate",
                "COALESCE(i.short_im_rate, i.im_rate)",
                "COALESCE(i.short_mm_rate, i.mm_rate)",
                "COALESCE(i.short_fm_rate, i.fm_rate)",
            ),
            strict=True,
        )
    )
    return f"""
        SELECT i.id, i.currency, v.unit_value, v.illiquid, {margins}
        FROM {t["instrument"]} i
        LEFT JOIN {t["fx"]} fx ON fx.currency = i.currency
        CROSS JOIN LATERAL (
            SELECT i.price * i.multiplier * ({RATE.format(currency="i.currency", rate="fx.rate")}) AS unit_value,
                   i.status IN ({illiquid}) AS illiquid
        ) v
        WHERE {instrument_filter}"""


def _derive_and_store(*, keep_cleared: bool) -> str:
    """From ``totals`` (an account's terms and exact sums) to its stored figures: figures_from_totals(),
    then round_figures(). Only figures or sums that changed are written (computed_at is when the figures
    last changed); accounts it cannot store have their sums cleared. With ``keep_cleared``, an account
    whose sums a concurrent change of its book cleared meanwhile is left to that change's recompute."""
    t = _tables()
    call_kinds = ", ".join(f"'{kind}'" for kind in CALL_KINDS)
    money = ", ".join(f"round({name}, 2) AS {name}" for name in MONEY_FIGURES)
    too_large = " OR ".join(f"abs({name}) >= {MONEY_LIMIT}" for name in MONEY_FIGURES)
    sums = [*EXACT_SUMS.values(), "open_positions"]
    exact = ", ".join(f"{total} AS {column}" for total, column in EXACT_SUMS.items())
    columns = ", ".join([*AccountRisk.FIGURE_FIELDS, *sums])
    figures = ", ".join(f"r.{name}" for name in AccountRisk.FIGURE_FIELDS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in [*AccountRisk.FIGURE_FIELDS, *sums, "computed_at"])
    old = ", ".join(f"old.{name}" for name in AccountRisk.FIGURE_FIELDS)
    old_sums = ", ".join(f"old.{name}" for name in sums)
    new_sums = ", ".join(f"r.{name}" for name in sums)
    still_valid = f" WHERE {t['risk']}.exact_cash IS NOT NULL" if keep_cleared else ""
    # Each figure is derived once per account, in subqueries that OFFSET 0 keeps from being merged into
    # the next (merged, a figure's expression is copied wherever it is used, and evaluated each time);
    # only the rounded figures are stored for the steps after.
    return f"""
rounded AS MATERIALIZED (  -- round_figures(): money half up to the cent; the ratio half up to 4 places, exactly
    SELECT id, kind, positions, open_positions, missing_currency, call_type, {exact}, {money},
           CASE WHEN denominator > 0 THEN round(
               sign(liquid_nav) * div(abs(liquid_nav) * 20000 + denominator, 2 * denominator) / 10000, 4)
           END AS nav_ratio
    FROM (
        SELECT e.*,
               GREATEST(liquid_nav, exposure) AS denominator,
               GREATEST(0, margin_shortfall, excess_financing) AS call_amount,
               CASE WHEN open_positions = 0 AND equity - accrued_interest < 0 THEN '{DEBIT}'
                    WHEN force_shortfall > 0 THEN '{FORCE_CALL}'
                    WHEN margin_shortfall > 0 THEN '{MARGIN_CALL}'
                    WHEN excess_financing > 0 THEN '{EXCESS_FINANCING}'
                    ELSE '' END AS call_type
        FROM (  -- figures_from_totals()
            SELECT t.*,
                   equity - illiquid_mv AS liquid_nav,
                   long_mv - illiquid_mv - short_mv AS exposure,
                   GREATEST(0, -total_cash) AS loan,
                   GREATEST(0, GREATEST(0, -total_cash) - credit_limit) AS excess_financing,
                   mm * coefficient - equity + charges AS margin_shortfall,
                   fm - equity + charges AS force_shortfall
            FROM totals t OFFSET 0
        ) e OFFSET 0
    ) decided
),
checked AS (
    SELECT r.*, (missing_currency IS NOT NULL OR {too_large}
                 OR abs(COALESCE(nav_ratio, 0)) >= {RATIO_LIMIT}) AS refused
    FROM rounded r
),
compared AS (
    SELECT r.*, old.account_id IS NULL OR ({old}) IS DISTINCT FROM ({figures}) AS moved,
           ({old_sums}) IS DISTINCT FROM ({new_sums}) AS sums_moved, old.computed_at AS changed_at
    FROM checked r LEFT JOIN {t["risk"]} old ON old.account_id = r.id
),
stored AS (  -- only what changed is written: computed_at is when the figures last changed
    INSERT INTO {t["risk"]} (account_id, {columns}, computed_at)
    SELECT r.id, {figures}, {new_sums}, CASE WHEN r.moved THEN %(now)s ELSE r.changed_at END
    FROM compared r WHERE (r.moved OR r.sums_moved) AND NOT r.refused
    ON CONFLICT (account_id) DO UPDATE SET {updates}{still_valid}
),
cleared AS (  -- sums of an account that is not stored no longer match the stored valuations
    UPDATE {t["risk"]} SET exact_cash = NULL
    WHERE exact_cash IS NOT NULL AND account_id IN (SELECT id FROM compared WHERE refused)
)
SELECT r.id, r.refused, r.positions, r.moved,
       -- what sync_calls() has to look at: an account called now, or with a call open
       r.refused OR (r.call_type <> '' AND r.call_amount > 0 AND r.kind IN ({call_kinds}))
           OR open_call.account_id IS NOT NULL AS to_sync,
       false AS from_book
FROM compared r
LEFT JOIN (SELECT account_id FROM {t["calls"]} WHERE closed_at IS NULL) open_call ON open_call.account_id = r.id"""


def _from_book(account_filter: str) -> str:
    """Recompute these accounts from their book (positions and cash) at the stored valuations."""
    t = _tables()
    rate = RATE.format(currency="c.currency", rate="fx.rate")
    return f"""
WITH accounts AS (
    SELECT a.id, {ACCOUNT_TERMS}
    FROM {t["account"]} a LEFT JOIN {t["rules"]} rules ON rules.account_kind = a.kind
    WHERE {account_filter.format(column="a.id")}
),
holdings AS (  -- figures_from_valuations(): a holding's value is unit value x quantity, its margins
               -- gross value x rate (the same exact product, taken per unit first)
    SELECT p.account_id,
           count(*) AS positions,
           count(*) FILTER (WHERE p.quantity <> 0) AS open_positions,
           -- an instrument with no stored valuation yet (added after this transaction's follow): refused
           min(COALESCE(v.currency, '?')) FILTER (WHERE v.unit_value IS NULL) AS missing_currency,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity > 0), 0) AS long_mv,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity < 0), 0) AS short_mv,
           COALESCE(sum(v.unit_value * p.quantity) FILTER (WHERE p.quantity > 0 AND v.illiquid), 0) AS illiquid_mv,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_im
                             ELSE -p.quantity * v.short_im END), 0) AS im,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_mm
                             ELSE -p.quantity * v.short_mm END), 0) AS mm,
           COALESCE(sum(CASE WHEN p.quantity > 0 THEN p.quantity * v.long_fm
                             ELSE -p.quantity * v.short_fm END), 0) AS fm
    FROM {t["position"]} p
    LEFT JOIN {t["valuation"]} v ON v.instrument_id = p.instrument_id
    WHERE {account_filter.format(column="p.account_id")}
    GROUP BY p.account_id
),
cash AS (  -- total_cash_hkd()
    SELECT c.account_id,
           sum(c.amount * ({rate})) AS total_cash,
           min(c.currency) FILTER (WHERE ({rate}) IS NULL) AS missing_currency
    FROM {t["cash"]} c LEFT JOIN {t["fx"]} fx ON fx.currency = c.currency
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
),{_derive_and_store(keep_cleared=False)}
"""


def _follow(instrument_filter: str, holder_filter: str = "true", *, unvalued: bool = False) -> str:
    """Move the stored valuations of these instruments to their current terms and their holders' sums
    by the difference; derive and store the holders' figures. Holders without valid sums, and holders
    of an instrument that has or had no FX rate, are returned as ``from_book``: the caller recomputes
    them from their book. Holders outside ``holder_filter`` (recomputed from their book next, in the
    same transaction) are left alone. With ``unvalued``, the holders of those of these instruments that
    cannot be valued (no FX rate) are returned as ``from_book`` too, even if nothing changed: the
    price that moved is still not in their figures, and the pure engine says why."""
    t = _tables()
    per_unit = ["unit_value", "illiquid", *PER_UNIT]
    current = ", ".join(f"c.{name}" for name in ["currency", *per_unit])
    before = ", ".join(f"old.{name}" for name in ["currency", *per_unit])
    differences = ", ".join(f"c.{name} - old.{name} AS d_{name}" for name in PER_UNIT)
    margin_sums = ", ".join(
        f"sum(CASE WHEN p.quantity > 0 THEN p.quantity * ch.d_long_{margin}"
        f" ELSE -p.quantity * ch.d_short_{margin} END) AS {margin}"
        for margin in ("im", "mm", "fm")
    )
    columns = ", ".join(["instrument_id", "currency", *per_unit])
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in ["currency", *per_unit])
    moved_sums = ", ".join(
        f"s.{column} + d.{total} AS {total}" for total, column in EXACT_SUMS.items() if total != "total_cash"
    )
    return f"""
WITH changed AS MATERIALIZED (
    SELECT c.*, old.unit_value IS NOT NULL AND c.unit_value IS NOT NULL AS by_difference,
           c.unit_value - old.unit_value AS d_unit_value,
           CASE WHEN c.illiquid THEN c.unit_value ELSE 0 END
               - CASE WHEN old.illiquid THEN old.unit_value ELSE 0 END AS d_illiquid,
           {differences}
    FROM ({_current_valuations(instrument_filter)}
    ) c
    LEFT JOIN {t["valuation"]} old ON old.instrument_id = c.id
    WHERE ({current}) IS DISTINCT FROM ({before}){" OR c.unit_value IS NULL" if unvalued else ""}
),
saved AS (
    INSERT INTO {t["valuation"]} ({columns})
    SELECT id, currency, {", ".join(per_unit)} FROM changed
    ON CONFLICT (instrument_id) DO UPDATE SET {updates}
),
differences AS MATERIALIZED (  -- per holder: quantity x the change per unit, as the sums add them
    SELECT p.account_id, count(*) AS positions, bool_and(ch.by_difference) AS by_difference,
           COALESCE(sum(p.quantity * ch.d_unit_value) FILTER (WHERE p.quantity > 0), 0) AS long_mv,
           COALESCE(sum(p.quantity * ch.d_unit_value) FILTER (WHERE p.quantity < 0), 0) AS short_mv,
           COALESCE(sum(p.quantity * ch.d_illiquid) FILTER (WHERE p.quantity > 0), 0) AS illiquid_mv,
           {margin_sums}
    FROM {t["position"]} p JOIN changed ch ON ch.id = p.instrument_id
    WHERE {holder_filter}
    GROUP BY p.account_id
),
totals AS MATERIALIZED (
    SELECT a.id, {ACCOUNT_TERMS}, d.positions, s.open_positions, NULL::text AS missing_currency,
           s.exact_cash AS total_cash, {moved_sums},
           s.exact_cash + s.exact_long_mv + d.long_mv + s.exact_short_mv + d.short_mv AS equity,
           a.accrued_interest + a.debt_margin - a.trading_limit AS charges
    FROM differences d
    JOIN {t["risk"]} s ON s.account_id = d.account_id AND s.exact_cash IS NOT NULL
    JOIN {t["account"]} a ON a.id = d.account_id
    LEFT JOIN {t["rules"]} rules ON rules.account_kind = a.kind
    WHERE d.by_difference
),{_derive_and_store(keep_cleared=True)}
UNION ALL
SELECT d.account_id, false, d.positions, false, false, true
FROM differences d
WHERE NOT EXISTS (SELECT 1 FROM totals t WHERE t.id = d.account_id)
"""


_STATEMENTS: dict[str, str] = {}


def _statement(key: str) -> str:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = {
            "follow_some": lambda: _follow("i.id = ANY(%(instruments)s::bigint[])", unvalued=True),
            # Lists are typed as the keys they match (bigint): PostgreSQL hashes them (book.lookups).
            "follow_but_in": lambda: _follow("true", "NOT p.account_id = ANY(%(ids)s::bigint[])"),
            "follow_but_range": lambda: _follow("true", "NOT p.account_id BETWEEN %(low)s AND %(high)s"),
            "in": lambda: _from_book("{column} = ANY(%(ids)s::bigint[])"),
            "range": lambda: _from_book("{column} BETWEEN %(low)s AND %(high)s"),
        }[key]()
    return statement


def _account_lookups(lookups: dict) -> tuple[str, dict]:
    if "in" in lookups:
        return "in", {"ids": list(lookups["in"])}
    return "range", {"low": lookups["gte"], "high": lookups["lte"]}


def store_figures(lookups: dict, *, now: datetime) -> Stored:
    """Store the figures of the accounts these lookups cover, in the caller's transaction (which holds the
    recompute lock). ``{"holders_of": [...]}``: the holders of these instruments after their prices
    moved, by difference. Ids ``{"gte", "lte"}`` or ``{"in"}``: first every instrument's price moves are
    followed (the sums are kept at one valuation per instrument), then these accounts are recomputed from
    their book; the holders followed on the way are ``beyond``, and the counts are of the lookups' own
    accounts. Returns what it stored and what it refused."""
    with connection.cursor() as cursor:
        # The holdings' aggregate sorts or hashes a row per position: in memory, not spilled to disk.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RECOMPUTE_WORK_MEM])
        # Compiling these statements (JIT) costs more than it saves: their work is numeric arithmetic.
        cursor.execute("SELECT set_config('jit', 'off', true)")
        # The follow sums each holder's differences, and a recompute from the book each account's
        # holdings, in account order: a hash table of every account's numeric sums (a hundred thousand
        # of them) costs more to build than the sort, or than reading the positions in account order.
        cursor.execute("SET LOCAL enable_hashagg = off")
        if "holders_of" in lookups:
            # The follow's joins to the figures and accounts tables go along its holders, in account
            # order: hashing each whole table (a hundred thousand rows, twice for the figures) costs more.
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute(_statement("follow_some"), {"instruments": list(lookups["holders_of"]), "now": now})
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT")
            runs = []
        else:
            # The lookups' own accounts are recomputed from their book next: the follow leaves them alone.
            key, params = _account_lookups(lookups)
            cursor.execute(_statement(f"follow_but_{key}"), {**params, "now": now})
            rows = cursor.fetchall()
            runs = [(key, params)]
        from_book = sorted({row[0] for row in rows if row[5]})
        beyond = {row[0] for row in rows} if runs else set()  # followed on the way, outside the lookups
        if from_book:
            runs.append(("in", {"ids": from_book}))
        for key, params in runs:
            cursor.execute(_statement(key), {**params, "now": now})
            rows += cursor.fetchall()
        cursor.execute("SET LOCAL enable_hashagg TO DEFAULT")
    # An account read twice (followed, then recomputed from its book) counts once, as last read.
    latest = {}
    moved = set()
    for account_id, refused, positions, was_moved, to_sync, again in rows:
        if again:
            continue
        latest[account_id] = (refused, positions, to_sync)
        if was_moved:
            moved.add(account_id)
    stored = Stored(0, 0, [], [], list(latest), [], beyond)
    for account_id, (refused, positions, to_sync) in latest.items():
        if to_sync:
            stored.to_sync.append(account_id)
        if refused:
            stored.refused.append(account_id)
            continue
        if account_id in moved:
            stored.moved.append(account_id)
        if account_id not in beyond:  # the counts are of these lookups' accounts
            stored.accounts += 1
            stored.positions += positions
    return stored
