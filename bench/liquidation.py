"""Liquidation speed.

1. The plan of one account with 50 positions (pure, in memory): p50 and p99 over many accounts,
   against the naive baseline in the same run (each simple plan tried lot by lot, every try a full
   engine evaluation of the account), with the ratio.
2. A batch: the plans of 1,000 called accounts computed and their orders placed (reservation under row
   locks, audit, submit to the gateway) through the services, in a database of its own; with a gateway
   that only takes the orders, so the figure is the console's side, not the simulated market's.

    python -m bench.liquidation --database-url postgres://postgres@127.0.0.1:5432/margincall_bench
"""

import argparse
import os
import random
import statistics
import time
from decimal import Decimal


def random_account(rng: random.Random, positions: int):
    from liquidation.plan import Line
    from risk.calculations import AccountTerms, InstrumentTerms

    lines = []
    total = Decimal(0)
    for index in range(positions):
        price = Decimal(rng.choice(["0.85", "3.2", "18.5", "80", "380.2", "612"]))
        rate = Decimal(rng.choice(["0.1", "0.2", "0.25", "0.3", "0.45", "0.6"]))
        lot = rng.choice([100, 200, 500, 1000])
        quantity = rng.randint(5, 200) * lot
        if rng.random() < 0.1:
            quantity = -quantity
        status = "suspended" if rng.random() < 0.04 else "normal"
        terms = InstrumentTerms(
            price=price, status=status, im_rate=rate + Decimal("0.05"), mm_rate=rate, fm_rate=rate * Decimal("0.8")
        )
        lines.append(Line(f"{index:04d}.HK", terms, quantity, lot))
        total += abs(price * quantity)
    cash = {"HKD": -total * Decimal("0.8")}
    return AccountTerms(credit_limit=total * Decimal("0.5")), cash, lines


def naive_plan(account, cash, lines, settings):
    """The baseline: both simple plans, each line tried one lot at a time with a full evaluation."""
    from risk.calculations import compute_figures

    def left(taken):
        moved_cash = dict(cash)
        positions = []
        for line in lines:
            quantity = taken.get(line.symbol, 0)
            sign = 1 if line.quantity > 0 else -1
            value = line.terms.price * quantity
            moved_cash["HKD"] = moved_cash.get("HKD", Decimal(0)) + sign * value - value * settings.cost_rate
            positions.append((line.terms, line.quantity - sign * quantity))
        figures = compute_figures(account=account, cash=moved_cash, positions=positions, fx={})
        return max(Decimal(0), figures.margin_shortfall, figures.excess_financing)

    walk = sorted(
        (line for line in lines if line.terms.status == "normal"),
        key=lambda line: (-line.terms.mm_rate, -abs(line.terms.price * line.quantity), line.symbol),
    )
    best = None
    for always in (True, False):
        taken = {}
        for line in walk:
            if left(taken) <= 0:
                break
            lots = abs(line.quantity) // line.lot_size
            found = None
            for k in range(1, lots + 1):
                if left({**taken, line.symbol: k * line.lot_size}) <= 0:
                    found = k * line.lot_size
                    break
            if found is not None:
                taken[line.symbol] = found
                break
            everything = lots * line.lot_size
            if always or left({**taken, line.symbol: everything}) < left(taken):
                taken[line.symbol] = everything
        value = sum((line.terms.price * taken.get(line.symbol, 0) for line in lines), Decimal(0))
        if best is None or value < best:
            best = value
    return best


def bench_plan(accounts: int, positions: int) -> None:
    from bench.common import percentile
    from liquidation.plan import Settings, plan

    rng = random.Random(11)
    cases = [random_account(rng, positions) for _ in range(accounts)]
    settings = Settings()
    times = []
    for account, cash, lines in cases:
        started = time.perf_counter()
        plan(account=account, cash=cash, lines=lines, fx={}, settings=settings)
        times.append((time.perf_counter() - started) * 1000)
    naive = []
    for account, cash, lines in cases[: max(3, accounts // 20)]:
        started = time.perf_counter()
        naive_plan(account, cash, lines, settings)
        naive.append((time.perf_counter() - started) * 1000)
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    naive_p50 = statistics.median(naive)
    print(
        f"plan, {positions} positions, {accounts} accounts: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms"
    )
    print(f"naive lot-by-lot baseline ({len(naive)} accounts): p50 {naive_p50:.0f} ms; ratio {naive_p50 / p50:.0f}x")


BATCH_CHUNK = 250


def bench_batch(calls: int, reuse: bool) -> None:
    from django.conf import settings as django_settings

    from bench.common import bench_trader, build_called_book
    from liquidation import services
    from liquidation.models import Order
    from risk.models import MarginCall

    if not reuse:
        build_called_book(calls * 2, calls, per_account=10, instruments=500)
    django_settings.LIQUIDATION_GATEWAY = "bench.liquidation.TakingGateway"
    Order.objects.update(status="cancelled")
    trader = bench_trader()
    open_calls = list(
        MarginCall.objects.filter(closed_at__isnull=True).select_related("account", "account__desk")[:calls]
    )
    started = time.perf_counter()
    placed = refused = 0
    accounts = [call.account for call in open_calls]
    for first in range(0, len(accounts), BATCH_CHUNK):
        for request in services.liquidate_calls(user=trader, accounts=accounts[first : first + BATCH_CHUNK]):
            placed += len(request.orders or [])
            refused += request.refused is not None
    elapsed = time.perf_counter() - started
    print(
        f"batch of {len(open_calls):,} calls planned and placed in {elapsed:.2f} s "
        f"({elapsed / max(1, len(open_calls)) * 1000:.1f} ms a call, {BATCH_CHUNK} calls a transaction): "
        f"{placed:,} orders, {refused} without an order"
    )


class TakingGateway:
    def submit(self, order_ids):
        from liquidation import services

        services.mark_submitted(order_ids)

    def cancel(self, order_id):
        from liquidation import services

        services.mark_cancelled(order_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--accounts", type=int, default=200, help="accounts planned in memory (default 200)")
    parser.add_argument("--positions", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000, help="calls in the batch (default 1,000)")
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    args = parser.parse_args()

    from bench.common import setup_django

    setup_django(args.database_url, fresh=bool(args.database_url) and not args.reuse)
    bench_plan(args.accounts, args.positions)
    if args.database_url:
        bench_batch(args.calls, args.reuse)


if __name__ == "__main__":
    main()
