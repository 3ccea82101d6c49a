"""A storm of ticks on a skewed book: ``python -m bench.tick_storm --database-url postgres://...``.

The book (its own database, emptied first unless ``--reuse``): ``--accounts`` accounts, holdings Zipf
by stock (the stock of rank r is held by 30%/r of the accounts, the most held by 30%), topped up to
about ten positions each from the rest; one account in nine margin-called.

The storm: ``--rate`` ticks a second for ``--seconds`` seconds, each a ``POST /api/ticks`` of one price,
the stock drawn Zipf (rank r with weight 1/r), through the real parts: the console server (uvicorn),
Redis, a Celery worker (2 processes). It runs twice in the same run: with ticks coalescing into
recompute passes (the console as it ships), then with the naive path (``RECOMPUTE_COALESCE=0``: one
recompute task per tick), and prints for each:

- lag from a tick's commit to stored figures that include it (sampled every 50 ms from the pending
  marks), p50 / p99 / max;
- lag from a tick's commit to the first event on an open Risk Warning stream naming a call of one of
  its holders, p50 / p99 / max;
- the backlog every 5 s (prices waiting for their recompute, the age of the oldest, tasks queued);
- the console server's CPU per tick applied (where /proc tells it);

and the naive path's figures as a ratio of the coalescing path's; last, the floor a pass of the median
pass's holders cannot go below here: rewriting that many figures rows, with no arithmetic.

    python -m bench.tick_storm --accounts 100000 --database-url postgres://postgres@127.0.0.1:5432/margincall_storm
"""

import argparse
import json
import os
import queue
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from decimal import Decimal

from bench.common import vacuum, wait_for_server
from bench.tick_latency import listen, post

OFFSET = time.time() - time.perf_counter()  # wall time = perf_counter + OFFSET


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--instruments", type=int, default=2_000)
    parser.add_argument("--positions-per-account", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="ticks per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--senders", type=int, default=8, help="threads posting ticks")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for a backlog to clear")
    parser.add_argument("--only", choices=["coalescing", "naive"], help="run one path only")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    return parser.parse_args()


def build_skewed_book(args, rng) -> None:
    from django.db import connection

    from book.models import Account, Desk, FxRate, Instrument

    FxRate.objects.create(currency="USD", rate=Decimal("7.8"))
    desks = Desk.objects.bulk_create([Desk(code=f"D{n}") for n in range(10)])
    Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"{rank}.HK",
                lot_size=100,
                price=Decimal(rng.randint(1_000, 50_000)) / 100,
                im_rate=Decimal("0.40"),
                mm_rate=Decimal("0.30"),
                fm_rate=Decimal("0.20"),
            )
            for rank in range(1, args.instruments + 1)
        ],
        batch_size=2000,
    )
    instruments = list(Instrument.objects.order_by("pk").values_list("pk", flat=True))  # rank order
    Account.objects.bulk_create(
        [
            Account(account_no=f"Z{n:07d}", desk=desks[n % 10], credit_limit=Decimal(500_000))
            for n in range(args.accounts)
        ],
        batch_size=5000,
    )
    accounts = list(Account.objects.values_list("pk", flat=True))
    holdings = defaultdict(set)
    for rank, instrument_id in enumerate(instruments, start=1):
        for account_id in rng.sample(accounts, int(len(accounts) * 0.30 / rank)):
            holdings[account_id].add(instrument_id)
    for account_id in accounts:
        held = holdings[account_id]
        while len(held) < args.positions_per_account:
            held.add(rng.choice(instruments))
    called = set(rng.sample(accounts, len(accounts) // 9))
    with connection.cursor() as cursor:
        with cursor.cursor.copy("COPY book_cashbalance (account_id, currency, amount) FROM STDIN") as copy:
            for account_id in accounts:
                copy.write_row((account_id, "HKD", -2_000_000 if account_id in called else 5_000_000))
        with cursor.cursor.copy("COPY book_position (account_id, instrument_id, quantity) FROM STDIN") as copy:
            for account_id, held in holdings.items():
                for instrument_id in held:
                    copy.write_row((account_id, instrument_id, rng.randint(1, 50) * 100))
        cursor.execute("ANALYZE")


class Monitor(threading.Thread):
    """Samples the pending marks every 50 ms (and the broker's queue every 5 s) on its own connection."""

    def __init__(self, database_url, redis_url):
        super().__init__(daemon=True)
        self.database_url, self.redis_url = database_url, redis_url
        self.samples = []  # (wall time, {instrument_id: since as wall time})
        self.backlog = []  # (wall time, waiting, oldest age s, tasks queued)
        self.stop = threading.Event()

    def run(self):
        import psycopg
        import redis

        broker = redis.Redis.from_url(self.redis_url)
        last_backlog = 0.0
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            while not self.stop.is_set():
                rows = connection.execute("SELECT instrument_id, since FROM book_pendingrecompute").fetchall()
                now = time.time()
                marks = {instrument_id: since.timestamp() for instrument_id, since in rows}
                self.samples.append((now, marks))
                if now - last_backlog >= 5:
                    oldest = now - min(marks.values()) if marks else 0.0
                    self.backlog.append((now, len(marks), oldest, broker.llen("celery")))
                    last_backlog = now
                time.sleep(0.05)

    def stored_at(self, instrument_id, committed):
        """When the figures first included a price committed at ``committed``: the first sample after it
        with no mark for the stock, or a mark younger than the price."""
        times = [at for at, _ in self.samples]
        for at, marks in self.samples[bisect_right(times, committed) :]:
            since = marks.get(instrument_id)
            if since is None or since > committed:
                return at
        return None


def storm(args, label, env, token, cookie, symbols, weights, holders_calls, rng):
    from bench.common import percentile, start_server, start_worker

    server = start_server(args.port, env)
    log_file = os.path.join(tempfile.mkdtemp(prefix="storm-"), "worker.log")
    worker = start_worker(env, log_file)
    monitor = Monitor(env["DATABASE_URL"], env["REDIS_URL"])
    events: queue.Queue = queue.Queue()
    sent = []  # (instrument_id, committed wall time)
    refused = Counter()  # why the API refused a tick (a tick older than the stored price: senders race)
    lock = threading.Lock()
    try:
        wait_for_server(args.port)
        threading.Thread(target=listen, args=(args.port, cookie, events), daemon=True).start()
        time.sleep(2.0)
        monitor.start()
        ids = list(symbols)
        count = int(args.rate * args.seconds)
        schedule = [(n / args.rate, rng.choices(ids, weights)[0]) for n in range(count)]
        prices = {}
        work: queue.Queue = queue.Queue()
        started = time.time()
        server_cpu = cpu_seconds(server.pid)

        def sender():
            while True:
                item = work.get()
                if item is None:
                    return
                instrument_id, price = item
                tick = [
                    {
                        "symbol": symbols[instrument_id],
                        "price": str(price),
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                    }
                ]
                answer = post(args.port, "/api/ticks", json.dumps(tick), {"Authorization": f"Bearer {token}"})
                with lock:
                    if answer.get("applied") == 1:
                        sent.append((instrument_id, time.time()))
                    else:
                        refused[refusal(answer)] += 1

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(args.senders)]
        for thread in threads:
            thread.start()
        for offset, instrument_id in schedule:
            delay = started + offset - time.time()
            if delay > 0:
                time.sleep(delay)
            base = prices.get(instrument_id) or Decimal(rng.randint(1_000, 50_000)) / 100
            prices[instrument_id] = (base * Decimal(rng.choice(["0.999", "1.001"]))).quantize(Decimal("0.001"))
            work.put((instrument_id, prices[instrument_id]))
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        sending = time.time() - started
        server_cpu = cpu_seconds(server.pid) - server_cpu if server_cpu is not None else None
        deadline = time.time() + args.drain
        while time.time() < deadline and (not monitor.samples or monitor.samples[-1][1]):
            time.sleep(0.2)
        time.sleep(0.5)
        monitor.stop.set()
        monitor.join()
        drained = not monitor.samples[-1][1]
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=60)

    received = []
    while not events.empty():
        received.append(events.get_nowait())
    times = [at for at, _ in received]
    to_stored, to_event, never = [], [], 0
    for instrument_id, committed in sent:
        at = monitor.stored_at(instrument_id, committed)
        if at is None:
            never += 1
            continue
        to_stored.append((at - committed) * 1000)
        calls = holders_calls.get(instrument_id)
        if calls:
            # the stream's listener stamps events with perf_counter: compared on wall time through OFFSET
            for event_at, call_ids in received[bisect_right(times, committed - OFFSET) :]:
                if call_ids & calls:
                    to_event.append((event_at + OFFSET - committed) * 1000)
                    break
    print(
        f"{label}: {len(sent):,} ticks applied in {sending:.1f} s ({len(sent) / sending:.0f}/s), "
        f"{sum(refused.values())} refused"
        + "".join(f"\n  refused {count}: {reason}" for reason, count in refused.most_common())
    )
    if server_cpu is not None and sent:
        per_tick = server_cpu * 1000 / len(sent)
        print(f"  console server CPU: {per_tick:.1f} ms per tick applied (its event stream included)")
    figures = {}
    for name, values in (("tick -> stored figures", to_stored), ("tick -> event on the page's stream", to_event)):
        if values:
            p50, p99, most = figures[name] = (percentile(values, 0.5), percentile(values, 0.99), max(values))
            print(f"  {name:36} p50 {p50:7.0f} ms  p99 {p99:7.0f} ms  max {most:7.0f} ms")
    if never:
        print(f"  {never:,} ticks never reached stored figures within the run and {args.drain:.0f} s after it")
    print("  backlog (s since the start: prices waiting, oldest waiting, tasks queued):")
    print(
        "    "
        + "  ".join(
            f"{at - started:3.0f}s: {waiting} / {oldest:.1f}s / {tasks}"
            for at, waiting, oldest, tasks in monitor.backlog
        )
    )
    print(f"  backlog {'cleared' if drained else 'NOT cleared'} within {args.drain:.0f} s of the last tick")
    passes = passes_logged(log_file)
    holders = 0
    if passes:
        holders = round(statistics.median([h for _, h, _ in passes]))
        seconds = [pass_ms for _, _, pass_ms in passes]
        print(
            f"  {len(passes)} recompute passes: {statistics.median([n for n, _, _ in passes]):.0f} prices and "
            f"{holders:,} holders each (median); a pass takes p50 "
            f"{percentile(seconds, 0.5):.0f} ms, p99 {percentile(seconds, 0.99):.0f} ms, max {max(seconds):.0f} ms"
        )
    return figures, monitor.backlog, drained, holders


def cpu_seconds(pid: int) -> float | None:
    """The CPU time a process has used (user and system), where /proc tells it (Linux); else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def refusal(answer: dict) -> str:
    """Why the API refused a tick, without what differs from one tick to the next (times, numbers)."""
    results = answer.get("results") or [{}]
    reason = str(results[0].get("reason") or answer.get("error") or answer)
    return re.sub(r"\([^)]*\)|\d+", "…", reason)[:120]


PASS_LINE = re.compile(r"recompute pass: (\d+) price\(s\), (\d+) holder\(s\).* pass (\d+) ms")


def passes_logged(log_file) -> list[tuple[int, int, int]]:
    """(prices, holders, milliseconds) of each recompute pass the worker logged."""
    try:
        with open(log_file, encoding="utf-8") as handle:
            return [tuple(map(int, match.groups())) for match in map(PASS_LINE.search, handle) if match]
    except FileNotFoundError:
        return []


def write_floor(holders: int, rng, rounds: int = 3) -> None:
    """What storing a pass's figures costs before any arithmetic: rewrite ``holders`` figures rows
    (as they are, each a new row version, as a pass's upsert makes) and roll back. Passes run back to
    back, so a tick waits for the pass under way, then its own: its lag reaches about twice a pass."""
    from django.db import connection, transaction

    from risk.models import AccountRisk

    ids = sorted(rng.sample(list(AccountRisk.objects.values_list("account_id", flat=True)), holders))
    table = connection.ops.quote_name(AccountRisk._meta.db_table)
    times = []
    for _ in range(rounds):
        with transaction.atomic():
            with connection.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute(
                    f"UPDATE {table} SET computed_at = computed_at WHERE account_id = ANY(%s::bigint[])", [ids]
                )
                times.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    floor = statistics.median(times)
    print(
        f"the floor here: rewriting {holders:,} figures rows (a median pass's holders), with no arithmetic, "
        f"takes {floor:.0f} ms (median of {rounds}); with passes back to back, a tick's lag reaches about "
        f"twice a pass: {2 * floor:.0f} ms from the writes alone, on an idle machine"
    )


def main():
    args = parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("--database-url postgres://... is needed: the worker and the server share it")
    from bench.common import bench_trader, setup_django

    os.environ["REDIS_URL"] = args.redis_url
    setup_django(args.database_url, fresh=not args.reuse)

    from django.core.management import call_command
    from django.test import Client

    from book.models import ApiToken, Instrument, PendingRecompute, Position
    from margincall.celery import app
    from risk.models import MarginCall
    from risk.services import recompute_accounts

    rng = random.Random(args.seed)
    if not args.reuse:
        started = time.time()
        build_skewed_book(args, rng)
        recompute_accounts()
        app.control.purge()  # the notices of the calls just opened: no worker is meant to send them here
        print(f"built the book in {time.time() - started:.0f} s")
    call_command("migrate", verbosity=0)
    top = Position.objects.filter(instrument=Instrument.objects.order_by("pk").first()).count()
    calls = MarginCall.objects.filter(closed_at__isnull=True).count()
    print(
        f"{Position.objects.values('account').distinct().count():,} accounts, {Position.objects.count():,} positions, "
        f"the most held stock in {top:,} accounts; {calls:,} open calls"
    )
    user = bench_trader()
    login = Client()
    login.force_login(user)
    cookie = f"sessionid={login.cookies['sessionid'].value}"
    ApiToken.objects.filter(name="storm").delete()
    api_token = ApiToken(name="storm")
    token = api_token.issue()
    api_token.save()

    symbols = dict(Instrument.objects.order_by("pk").values_list("pk", "symbol"))
    weights = [1 / rank for rank in range(1, len(symbols) + 1)]
    open_calls = dict(MarginCall.objects.filter(closed_at__isnull=True, kind="margin").values_list("account_id", "pk"))
    holders_calls = defaultdict(set)
    for account_id, instrument_id in Position.objects.filter(account_id__in=list(open_calls)).values_list(
        "account_id", "instrument_id"
    ):
        holders_calls[instrument_id].add(open_calls[account_id])

    base_env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
    }
    results = {}
    for label, coalesce in (("coalescing", "1"), ("naive (one recompute per tick)", "0")):
        if args.only and not label.startswith(args.only):
            continue
        app.control.purge()
        PendingRecompute.objects.all().delete()
        vacuum()
        results[label] = storm(
            args,
            label,
            {**base_env, "RECOMPUTE_COALESCE": coalesce},
            token,
            cookie,
            symbols,
            weights,
            holders_calls,
            rng,
        )
        app.control.purge()
        recompute_accounts()  # leave the stored figures in line for the next run
        PendingRecompute.objects.all().delete()
    holders = next(iter(results.values()))[3] if results else 0
    if holders:
        vacuum()
        write_floor(holders, rng)
    if len(results) == 2:
        (fast, fast_backlog, _, _), (naive, naive_backlog, _, _) = results.values()
        print("naive / coalescing:")
        for name in fast:
            if name in naive:
                p99, most = naive[name][1] / max(fast[name][1], 1), naive[name][2] / max(fast[name][2], 1)
                print(f"  {name:36} p99 {p99:6.1f}x   max {most:6.1f}x")
        waiting = (max(b[1] for b in naive_backlog), max(b[1] for b in fast_backlog))
        queued = (max(b[3] for b in naive_backlog), max(b[3] for b in fast_backlog))
        print(f"  most prices waiting at once: naive {waiting[0]}, coalescing {waiting[1]}")
        print(f"  most tasks queued: naive {queued[0]}, coalescing {queued[1]}")


if __name__ == "__main__":
    main()
