"""How long ``POST /api/ticks`` takes for bodies of 1 to 10,000 ticks, each tick a different stock.

Each body goes through the real view (token, JSON, parsing, the prices' transaction, the queued
recompute); the stocks have no holders, so the figures are those of taking the prices in. Without
``--redis-url`` (the embedded default) the recompute pass runs in the request; with it, the pass is
queued for a worker (none runs here: the queue is emptied at the end).

The prices' transaction alone (``apply_ticks``) is set against the naive baseline in the same run: the
same ticks' instruments looked up, each written with its own conditional UPDATE, then marked pending.

    python -m bench.tick_body --database-url postgres://postgres@127.0.0.1:5432/margincall_bench_tb
"""

import argparse
import os
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from bench.common import setup_django

SIZES = (1, 100, 1000, 10_000)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="", help="e.g. redis://127.0.0.1:6379/14")
    parser.add_argument("--repeat", type=int, default=5, help="bodies of each size")
    parser.add_argument("--stocks", type=int, default=max(SIZES), help="the largest body (and the stocks made)")
    args = parser.parse_args()
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    setup_django(args.database_url, fresh=True)

    from django.db import connection, transaction
    from django.db.models import Q
    from django.test import Client
    from django.utils import timezone

    from book import pending
    from book.models import ApiToken, Instrument
    from book.ticks import apply_ticks
    from margincall.celery import app

    sizes = [size for size in SIZES if size < args.stocks] + [args.stocks]
    Instrument.objects.bulk_create(
        Instrument(symbol=f"T{n}.HK", price=Decimal("10"), lot_size=100) for n in range(args.stocks)
    )
    api_token = ApiToken(name="bench")
    secret = api_token.issue()
    api_token.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_HOST="127.0.0.1")
    start = timezone.now() - timedelta(hours=1)
    step = [0]

    def body(size):
        step[0] += 1
        at = (start + timedelta(milliseconds=step[0])).isoformat()
        return [{"symbol": f"T{n}.HK", "price": f"{10 + step[0] % 7}.{n % 100:02d}", "time": at} for n in range(size)]

    def by_api(items):
        response = client.post("/api/ticks", items, content_type="application/json")
        if response.status_code != 200 or response.json()["applied"] != len(items):
            raise SystemExit(f"the API refused the body: {response.content[:300]!r}")

    def write(items):
        with transaction.atomic():
            apply_ticks(items)

    def one_update_each(items):
        with transaction.atomic():
            found = dict(
                Instrument.objects.filter(symbol__in={item["symbol"] for item in items}).values_list("symbol", "pk")
            )
            for item in sorted(items, key=lambda item: found[item["symbol"]]):
                Instrument.objects.filter(pk=found[item["symbol"]]).filter(
                    Q(price_time__isnull=True) | Q(price_time__lte=item["time"])
                ).update(price=Decimal(item["price"]), price_time=item["time"])
            pending.mark(found.values(), now=timezone.now())

    where = "queued for a worker" if args.redis_url else "run in the request"
    print(
        f"{connection.vendor}; {args.stocks:,} stocks; the pass {where}; {args.repeat} bodies of each size; median ms"
    )
    print(f"{'ticks':>7} {'request':>9} {'per tick':>9} {'write':>8} {'one UPDATE each':>16} {'ratio':>6}")
    for size in sizes:
        request, ours, naive = [], [], []
        for way, times in ((by_api, request), (write, ours), (one_update_each, naive)):
            for _ in range(args.repeat):
                items = body(size)
                began = time.perf_counter()
                way(items)
                times.append(time.perf_counter() - began)
        a, b, c = (statistics.median(times) * 1000 for times in (request, ours, naive))
        print(f"{size:>7,} {a:>9.1f} {a / size:>9.3f} {b:>8.1f} {c:>16.1f} {b / c:>6.2f}")
    if args.redis_url:
        app.control.purge()


if __name__ == "__main__":
    main()
