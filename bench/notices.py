"""The daily notice job at scale: 10,000 open calls, the job queues every notice (with its delivery and
snapshot), then a real Celery worker on the Redis broker delivers them to a local SMS gateway stub. The
job is run a second time: it must write nothing.

    python -m bench.notices --database-url postgres://postgres@127.0.0.1:5432/margincall_bench
"""

import argparse
import datetime as dt
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Stub:
    """A gateway that answers 200 at once and counts what it received."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stub.lock:
                    stub.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def next_notice_time(after: dt.datetime) -> dt.datetime:
    """17:30 Hong Kong time on the first XHKG session after ``after``."""
    from book.trading_calendar import HONG_KONG, is_session

    day = after.astimezone(HONG_KONG).date() + dt.timedelta(days=1)
    while not is_session(day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(17, 30), tzinfo=HONG_KONG)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # its own database, emptied first: never the DATABASE_URL the console runs on
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("--database-url postgres://... is needed: the worker and this script share it")

    from bench.common import build_called_book, setup_django, start_worker

    os.environ["REDIS_URL"] = args.redis_url
    os.environ["LOG_LEVEL"] = "WARNING"
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # no task left from an earlier run
    setup_django(args.database_url, fresh=not args.reuse)
    if not args.reuse:
        build_called_book(args.accounts, args.calls)
    redis.Redis.from_url(args.redis_url).flushdb()  # the trigger notices the build queued: not measured

    from django.db.models import Count

    from book.models import Account
    from notices import services
    from notices.models import Delivery, Notice, NoticeGateway
    from risk.models import MarginCall, RuleSet

    Delivery.objects.all().delete()
    Notice.objects.all().delete()
    Account.objects.update(phone="+85290000000")
    stub = Stub()
    NoticeGateway.objects.update_or_create(channel="sms", defaults={"url": stub.url, "timeout_seconds": 5})
    for kind in ("margin", "intraday"):
        RuleSet.objects.update_or_create(account_kind=kind, defaults={"daily_channels": "sms"})
    latest = MarginCall.objects.filter(closed_at__isnull=True).order_by("-triggered_at").first()
    now = next_notice_time(latest.triggered_at)
    eligible = MarginCall.objects.filter(status="open", closed_at__isnull=True, deadline__gt=now).count()

    started = time.perf_counter()
    written = services.daily_notices(now)
    queued = time.perf_counter() - started
    print(
        f"daily job over {eligible:,} eligible open calls: {len(written):,} notices written and queued "
        f"in {queued:.1f} s"
    )

    started = time.perf_counter()
    again = services.daily_notices(now + dt.timedelta(minutes=1))
    print(f"the job again a minute later: {len(again)} notices ({time.perf_counter() - started:.2f} s)")
    doubles = Notice.objects.values("call", "day").annotate(n=Count("pk")).filter(n__gt=1).count()
    print(f"calls with two notices for one day: {doubles}")

    env = {**os.environ, "DATABASE_URL": args.database_url}
    worker = start_worker(env)
    try:
        started = time.perf_counter()
        deadline = started + 600
        while stub.count < len(written) and time.perf_counter() < deadline:
            time.sleep(0.5)
        delivered = time.perf_counter() - started
        time.sleep(2)
        sent = Delivery.objects.filter(status="sent").count()
        print(
            f"worker (2 processes) delivered {stub.count:,} SMS to the local gateway in {delivered:.1f} s "
            f"({stub.count / delivered:.0f}/s); deliveries marked sent: {sent:,}; gateway requests: {stub.count:,}"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)


if __name__ == "__main__":
    main()
