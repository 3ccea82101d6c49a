"""The recompute against the arithmetic: ``python -m bench.engine --database-url postgres://...``.

Builds a book in its own database (emptied first): ``--accounts`` accounts with ``--positions-per-account``
positions each, and one hot stock held by ``--hot-share`` of the accounts. Then, in the same run, it
times the same figures three ways:

- **in-memory**: the book already loaded into Python objects, every account's figures computed and
  rounded by the pure engine (``risk.calculations.compute_figures``), nothing read or written: the
  baseline;
- **pure engine, stored**: the pure engine with the database read and write (how every book was
  recomputed before the set-based engine, and how SQLite still is);
- **stored** (PostgreSQL: ``risk.sql_engine``): the recompute as the worker runs it, database read and
  write included; once for the figures alone and once with the margin calls brought in line. After a
  price change that is by difference (each holder's exact sums moved by quantity x the change); the
  hot stock's holders recomputed from their whole book are timed beside it.

for the whole book and for the holders of the hot stock after its price moved, and prints each time
with its ratio to the in-memory evaluation.

    python -m bench.engine --accounts 100000 --database-url postgres://postgres@127.0.0.1:5432/margincall_bench
"""

import argparse
import os
import random
import time
from collections import defaultdict
from decimal import Decimal


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="the broker the calls' notices queue on"
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions-per-account", type=int, default=10)
    parser.add_argument("--instruments", type=int, default=2_000)
    parser.add_argument("--hot-share", type=float, default=0.3, help="share of the accounts holding the hot stock")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measure, the best shown (the whole book in memory: 2; its pure engine, worst case: 1)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    return parser.parse_args()


def build(args) -> int:
    """The book, and the hot stock's id."""
    from django.db import connection

    from bench.recompute import build_book
    from book.models import Account, CashBalance, Instrument, Position

    rng = random.Random(args.seed)
    build_book(args.accounts, args.positions_per_account, args.instruments, rng)
    # About one account in nine margin-called, as at a broker on a falling day; the rest well funded.
    ids = list(Account.objects.values_list("pk", flat=True))
    called = rng.sample(ids, len(ids) // 9)
    CashBalance.objects.exclude(account_id__in=called).update(amount=Decimal(5_000_000))
    CashBalance.objects.filter(account_id__in=called).update(amount=Decimal(-2_000_000))
    hot = Instrument.objects.filter(currency="HKD", status="normal").order_by("pk").first()
    held = set(Position.objects.filter(instrument=hot).values_list("account_id", flat=True))
    wanted = [pk for pk in rng.sample(ids, int(len(ids) * args.hot_share)) if pk not in held]
    rows = [(pk, hot.pk, rng.randint(1, 50) * 100) for pk in wanted]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            with cursor.cursor.copy("COPY book_position (account_id, instrument_id, quantity) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("ANALYZE")
    else:
        Position.objects.bulk_create([Position(account_id=a, instrument_id=i, quantity=q) for a, i, q in rows])
    return hot.pk


def load(account_ids=None):
    """The book as the pure engine takes it: (account terms, cash, [(instrument terms, quantity)], kind)."""
    from book.models import Account, CashBalance, Position
    from risk import selectors
    from risk.calculations import AccountTerms

    accounts = Account.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    terms = selectors.instrument_terms(Position.objects.values_list("instrument_id", flat=True).distinct())
    cash, holdings = defaultdict(dict), defaultdict(list)
    cash_rows = CashBalance.objects.values_list("account_id", "currency", "amount")
    position_rows = Position.objects.values_list("account_id", "instrument_id", "quantity")
    if account_ids is not None:
        cash_rows = cash_rows.filter(account_id__in=account_ids)
        position_rows = position_rows.filter(account_id__in=account_ids)
    for account_id, currency, amount in cash_rows:
        cash[account_id][currency] = amount
    for account_id, instrument_id, quantity in position_rows:
        holdings[account_id].append((terms[instrument_id], quantity))
    return [
        (AccountTerms(credit, interest, debt, limit), cash[pk], holdings[pk], kind)
        for pk, kind, credit, interest, debt, limit in accounts.values_list(
            "pk", "kind", "credit_limit", "accrued_interest", "debt_margin", "trading_limit"
        )
    ]


def in_memory(book) -> tuple[float, int]:
    """Seconds to compute and round every account's figures from the loaded book; positions counted."""
    from risk import selectors
    from risk.calculations import compute_figures, round_figures

    fx, coefficients = selectors.fx_rates_current(), selectors.call_coefficients()
    started = time.perf_counter()
    positions = 0
    for account, cash, holdings, kind in book:
        round_figures(
            compute_figures(account=account, cash=cash, positions=holdings, fx=fx, call_coefficient=coefficients[kind])
        )
        positions += len(holdings)
    return time.perf_counter() - started, positions


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def rolled_back(function):
    """Run in a transaction that is undone, so each way starts from the same stored figures."""
    from django.db import transaction

    def run():
        with transaction.atomic():
            function()
            transaction.set_rollback(True)

    return run


def line(label: str, seconds: float, baseline: float) -> None:
    print(f"  {label:<44} {seconds * 1000:>10,.0f} ms   {seconds / baseline:>6.2f}x the in-memory evaluation")


def main() -> None:
    args = parse_args()
    from bench.common import setup_django, vacuum

    os.environ["REDIS_URL"] = args.redis_url  # the notices of calls opened here queue; no worker takes them
    setup_django(args.database_url, fresh=not args.reuse)

    from django.db import connection
    from django.db.models import Count, F
    from django.utils import timezone

    from book.models import Account, Instrument, Position
    from margincall.celery import app
    from risk import services, sql_engine
    from risk.models import MarginCall

    started = time.perf_counter()
    if args.reuse:
        most_held = Position.objects.values("instrument").annotate(held=Count("pk")).order_by("-held")
        hot = most_held.first()["instrument"]
    else:
        hot = build(args)
        services.recompute_accounts()  # stored figures and calls to start from
    holders = sorted(set(Position.objects.filter(instrument_id=hot).values_list("account_id", flat=True)))
    print(
        f"database: {connection.vendor}; {Account.objects.count():,} accounts, {Position.objects.count():,} positions, "
        f"{MarginCall.objects.filter(closed_at__isnull=True).count():,} open calls; "
        f"hot stock held by {len(holders):,} accounts ({time.perf_counter() - started:.0f} s to prepare)"
    )
    vacuum()
    now = timezone.now()

    print("full recompute")
    book = load()
    baseline, positions = min(in_memory(book) for _ in range(2))
    del book
    print(f"  {'in-memory evaluation (baseline)':<44} {baseline * 1000:>10,.0f} ms   ({positions:,} positions)")
    if sql_engine.available():
        figures_only = min(
            timed(rolled_back(lambda: sql_engine.store_figures({"gte": 0, "lte": 2**62}, now=now)))
            for _ in range(args.repeat)
        )
        line("stored, figures only (sql_engine)", figures_only, baseline)
    # Nothing moved since the last: each run reads and compares the whole book, as the first did.
    with_calls = min(timed(services.recompute_accounts) for _ in range(args.repeat))
    line("stored, with the calls (recompute_accounts)", with_calls, baseline)
    if sql_engine.available():
        pure = timed(rolled_back(lambda: services._store_with_pure_engine({"gte": 0, "lte": 2**62}, now)))
        line("pure engine, stored, figures only", pure, baseline)

    def every_price_moves():
        Instrument.objects.update(price=F("price") * Decimal("1.01"))
        services.recompute_accounts()

    # The worst case: every stock moved, so every account's figures change and are written.
    line("every price moved: stored, with the calls", timed(rolled_back(every_price_moves)), baseline)

    print(f"hot stock: a price change, its {len(holders):,} holders")
    book = load(holders)
    baseline = min(in_memory(book)[0] for _ in range(args.repeat))
    print(f"  {'in-memory evaluation (baseline)':<44} {baseline * 1000:>10,.0f} ms")
    price = Instrument.objects.get(pk=hot).price

    def move_and_follow():
        nonlocal price
        price = price * Decimal("0.97") if price > 1 else price * Decimal("1.5")
        Instrument.objects.filter(pk=hot).update(price=price.quantize(Decimal("0.001")))
        services.follow_prices(instrument_ids=[hot])

    if sql_engine.available():

        def move_and_store():
            Instrument.objects.filter(pk=hot).update(price=price * 2)
            sql_engine.store_figures({"holders_of": [hot]}, now=timezone.now())

        by_difference = min(timed(rolled_back(move_and_store)) for _ in range(args.repeat))
        line("stored, figures only (sql_engine)", by_difference, baseline)
        from_book = min(
            timed(rolled_back(lambda: sql_engine.store_figures({"in": holders}, now=timezone.now())))
            for _ in range(args.repeat)
        )
        line("its holders recomputed from their book, figures only", from_book, baseline)
    line("stored, with the calls (follow_prices)", min(timed(move_and_follow) for _ in range(args.repeat)), baseline)
    if sql_engine.available():
        pure = min(
            timed(rolled_back(lambda: services._store_with_pure_engine({"in": holders}, timezone.now())))
            for _ in range(args.repeat)
        )
        line("pure engine, stored, figures only", pure, baseline)
    app.control.purge()


if __name__ == "__main__":
    main()
