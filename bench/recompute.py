"""Benchmark of the bulk recompute: ``python -m bench.recompute --accounts 100000``.

Builds a synthetic book in its own database (never the one in DATABASE_URL), then times:
a full recompute of every account, and the recompute of one instrument's holders after a price change.
Prints accounts/s and positions/s.

    python -m bench.recompute --accounts 100000 --positions-per-account 10 \
        --database-url postgres://postgres@127.0.0.1:5432/margincall_bench
"""

import argparse
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions-per-account", type=int, default=10)
    parser.add_argument("--instruments", type=int, default=2_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="a database for the benchmark alone (it is emptied); default: a SQLite file in var/",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="the broker the notices of the calls opened here queue on (no worker takes them): without one,"
        " they would be sent inside the timed recompute",
    )
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def prepare_database(url: str) -> None:
    if not url:
        path = Path(__file__).resolve().parent.parent / "var" / "bench.sqlite3"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url


def build_book(accounts: int, per_account: int, instruments: int, rng: random.Random) -> None:
    from django.db import connection

    from book.models import Account, CashBalance, Desk, FxRate, Instrument, Position

    FxRate.objects.create(currency="USD", rate=Decimal("7.8"))
    desks = Desk.objects.bulk_create([Desk(code=f"D{n}") for n in range(10)])
    statuses = ["normal"] * 96 + ["suspended", "suspended", "long_suspended", "delisted"]
    Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"{n}.HK" if n % 5 else f"US{n}",
                currency="HKD" if n % 5 else "USD",
                lot_size=100,
                status=rng.choice(statuses),
                price=Decimal(rng.randint(10, 50_000)) / 100,
                im_rate=Decimal("0.40"),
                mm_rate=Decimal("0.30"),
                fm_rate=Decimal("0.20"),
            )
            for n in range(1, instruments + 1)
        ],
        batch_size=2000,
    )
    instrument_ids = list(Instrument.objects.values_list("pk", flat=True))
    Account.objects.bulk_create(
        [Account(account_no=f"B{n:07d}", desk=desks[n % 10], credit_limit=Decimal(500_000)) for n in range(accounts)],
        batch_size=5000,
    )
    account_ids = list(Account.objects.values_list("pk", flat=True))

    cash_rows = [(pk, "HKD", Decimal(rng.randint(-2_000_000, 500_000))) for pk in account_ids]
    position_rows = []
    for pk in account_ids:
        for instrument_id in rng.sample(instrument_ids, per_account):
            quantity = rng.randint(1, 50) * 100
            position_rows.append((pk, instrument_id, -quantity if rng.random() < 0.05 else quantity))

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy("COPY book_cashbalance (account_id, currency, amount) FROM STDIN") as copy:
                for row in cash_rows:
                    copy.write_row(row)
            with raw.copy("COPY book_position (account_id, instrument_id, quantity) FROM STDIN") as copy:
                for row in position_rows:
                    copy.write_row(row)
            cursor.execute("ANALYZE")
    else:
        CashBalance.objects.bulk_create(
            [CashBalance(account_id=a, currency=c, amount=x) for a, c, x in cash_rows], batch_size=5000
        )
        Position.objects.bulk_create(
            [Position(account_id=a, instrument_id=i, quantity=q) for a, i, q in position_rows], batch_size=5000
        )


def main() -> None:
    args = parse_args()
    prepare_database(args.database_url)
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from book.models import Instrument
    from risk.selectors import accounts_holding
    from risk.services import recompute_accounts

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build_book(args.accounts, args.positions_per_account, args.instruments, random.Random(args.seed))
    print(f"database: {connection.vendor}; built {args.accounts} accounts in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    result = recompute_accounts()
    elapsed = time.perf_counter() - started
    print(
        f"full recompute: {result.accounts} accounts, {result.positions} positions in {elapsed:.2f} s"
        f" = {result.accounts / elapsed:,.0f} accounts/s, {result.positions / elapsed:,.0f} positions/s"
    )

    instrument = Instrument.objects.order_by("pk").first()
    started = time.perf_counter()
    instrument.price = instrument.price * Decimal("0.9")
    instrument.save(update_fields=["price"])
    holders = set(accounts_holding([instrument.pk]))
    result = recompute_accounts(account_ids=holders)
    elapsed = time.perf_counter() - started
    print(
        f"one price change: {len(holders)} holders recomputed ({result.positions} positions) in {elapsed * 1000:.0f} ms"
    )
    from margincall.celery import app

    app.control.purge()  # the notices queued, which no worker takes


if __name__ == "__main__":
    main()
