"""Server time of the Risk Warning page: ``python -m bench.risk_warning --database-url postgres://...``.

Builds 100,000 accounts with about 10,000 open calls in its own database (emptied first), then
requests the page as a trader who sees every desk, then as one who sees 3 desks of 10: the default
view, sorted, filtered, searched, a deep page, the Exception tab; then, apart, the Accounts landing page,
History over 250 days of closed calls (200,000 by default), and the lists that grow as long: Liquidation
Orders (100,000 orders) and Notices (300,000 deliveries). Prints p50/p95/max server time per view and
the queries each ran.
Server time is the whole Django request in-process (middleware, queries, template), without network.
"""

import argparse
import os
import time
from datetime import timedelta


def count_queries(connection, run, *args, **kwargs) -> int:
    """The statements ``run(*args, **kwargs)`` sends, counted as they go (nothing rendered or kept)."""
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        run(*args, **kwargs)
    return statements


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--closed", type=int, default=200_000, help="closed calls in History (default 200,000)")
    parser.add_argument("--orders", type=int, default=100_000, help="liquidation orders (default 100,000)")
    parser.add_argument(
        "--notices", type=int, default=150_000, help="daily notices, two deliveries each (default 150,000)"
    )
    parser.add_argument("--requests", type=int, default=60, help="requests per view (default 60)")
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    args = parser.parse_args()

    from bench.common import (
        add_closed_calls,
        add_orders_and_notices,
        bench_desk_trader,
        bench_trader,
        build_called_book,
        percentile,
        setup_django,
        vacuum,
    )

    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")  # the calls' notices queue, unsent
    setup_django(args.database_url, fresh=not args.reuse)
    if not args.reuse:
        build_called_book(args.accounts, args.calls)
        add_closed_calls(args.closed)
        add_orders_and_notices(args.orders, args.notices)
        vacuum()  # as autovacuum would after the loads (a server may run with it off)

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from liquidation.models import Order
    from notices.models import Delivery
    from risk.models import MarginCall

    settings.ALLOWED_HOSTS = ["*"]
    user = bench_trader()
    client = Client()
    client.force_login(user)
    some = MarginCall.objects.filter(closed_at__isnull=True).order_by("pk").values_list("pk", flat=True)[:100]
    MarginCall.objects.filter(pk__in=list(some)).update(status="exception", exception_reason="bench")
    open_calls = MarginCall.objects.filter(closed_at__isnull=True, account__kind="margin").count()
    views = {
        "default (call amount desc)": "/risk-warning/",
        "sorted by ratio": "/risk-warning/?sort=ratio",
        "filter type + desk": "/risk-warning/?type=force_call&desk=D3",
        "filter ratio range": "/risk-warning/?ratio_min=0&ratio_max=15",
        "search": "/risk-warning/?q=B00012",
        "page 100": "/risk-warning/?page=100",
        "deadline passed + long": "/risk-warning/?overdue=on&long=on",
        "exception tab": "/risk-warning/?tab=exception",
        "live refresh (htmx)": "/risk-warning/?changed=1,2,3",
    }
    closed_calls = MarginCall.objects.filter(closed_at__isnull=False).count()
    week = timezone.localdate() - timedelta(days=30)
    history = {
        "History (closed desc)": "/history/",
        "History page 100": "/history/?page=100",
        "History closed in a week": f"/history/?closed_from={week}&closed_to={week + timedelta(days=6)}",
        "History search": "/history/?q=B00012",
    }
    day = timezone.localdate() - timedelta(days=30)
    others = {
        "Orders (newest first)": "/liquidation/orders/",
        "Orders page 100": "/liquidation/orders/?page=100",
        "Orders of a day": f"/liquidation/orders/?day={day}",
        "Orders of stock recovery": "/liquidation/orders/?source=recovery",  # none in this book
        "Notices (newest first)": "/notices/",
        "Notices page 100": "/notices/?page=100",
        "Notices failed": "/notices/?status=failed",
    }
    orders, deliveries = Order.objects.count(), Delivery.objects.count()
    print(
        f"database: {connection.vendor}; open margin calls: {open_calls:,}; closed calls: {closed_calls:,};"
        f" orders: {orders:,}; deliveries: {deliveries:,}; {args.requests} requests per view"
    )
    desk_trader = Client()
    desk_trader.force_login(bench_desk_trader(["D3", "D4", "D5"]))

    def measure(session, name, url) -> list[float]:
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        session.get(url, **headers)  # warm
        # The queries are counted on one request: recording them (a debug cursor that renders each
        # statement) is not part of what a request costs.
        queries = count_queries(connection, session.get, url, **headers)
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = session.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(
            f"  {name:28} p50 {percentile(times, 0.5):6.1f} ms  p95 {percentile(times, 0.95):6.1f} ms"
            f"  max {max(times):6.1f} ms  queries {queries}"
        )
        return times

    for who, session in (("a trader who sees every desk", client), ("a trader who sees 3 desks of 10", desk_trader)):
        print(who)
        everything = []
        for name, url in views.items():
            everything += measure(session, name, url)
        print(f"  all views: p50 {percentile(everything, 0.5):.1f} ms, p95 {percentile(everything, 0.95):.1f} ms")
        # The landing page beside it (each desk's open calls and the book's counts), not in the figure above.
        measure(session, "Accounts page (landing)", "/")
        for name, url in {**history, **others}.items():
            measure(session, name, url)


if __name__ == "__main__":
    main()
