"""Open pages against page speed: ``python -m bench.streams --database-url postgres://...``.

Starts the console as production runs it (``python -m margincall.serve``, one process here), builds a
book in its own database (emptied first, unless --reuse), and times Risk Warning page requests (the
full page and its htmx refresh, one at a time, over HTTP) twice: with no event stream open, then with
1,000 streams open on that one process (100 users with 10 open pages each, the per-user cap), in
alternating rounds. With ``--changes-per-second N`` calls change meanwhile, published as the
recompute publishes them, so every stream keeps waking. Prints p50/p95 of each run and their ratio,
the events the streams received and the server's memory, then closes the streams and checks the
server freed them.
"""

import argparse
import asyncio
import http.client
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--per-user", type=int, default=10, help="streams per user (the server's cap)")
    parser.add_argument("--requests", type=int, default=300, help="page requests without and with streams")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds without and with streams")
    parser.add_argument(
        "--changes-per-second", type=float, default=0.0, help="call changes published meanwhile (default none)"
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("--database-url postgres://... is needed (a database the benchmark may empty)")

    from bench.common import (
        bench_trader,
        build_called_book,
        percentile,
        setup_django,
        start_server,
        wait_for_server,
    )
    from margincall.serve import raise_open_files_limit

    files = raise_open_files_limit()
    if files < args.streams + 200:
        sys.exit(f"the open-file limit is {files}; {args.streams} streams need more (ulimit -n)")
    os.environ["REDIS_URL"] = args.redis_url
    setup_django(args.database_url, fresh=not args.reuse)
    if not args.reuse:
        build_called_book(args.accounts, args.calls)

    from django.test import Client

    from risk.models import MarginCall

    trader = bench_trader()
    users = [stream_user(n) for n in range(-(-args.streams // args.per_user))]
    cookies = [session_cookie(user) for user in [trader, *users]]
    page_cookie, stream_cookies = cookies[0], cookies[1:]
    call_ids = list(MarginCall.objects.filter(closed_at__isnull=True, kind="margin").values_list("pk", flat=True))
    Client()  # settings loaded before the server starts

    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "EVENT_STREAMS_PER_USER": str(args.per_user),
    }
    server = start_server(args.port, env, quiet=False)
    changer = Changer(call_ids, args.changes_per_second)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so the server is stopped too
    try:
        wait_for_server(args.port)
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}): is port {args.port} taken?")
        print(f"server pid {server.pid}; {len(call_ids):,} open margin calls; page requests one at a time")
        if args.changes_per_second > 0:
            changer.start()
        pages = [("/risk-warning/", {}), ("/risk-warning/?changed=1,2,3", {"HX-Request": "true"})]
        timed(args.port, page_cookie, pages, 20)  # warm
        # Rounds alternate without and with the streams, so a slower moment of the machine hits both.
        baseline, with_streams, events, opened, refused = [], [], 0, 0, 0
        memory_before = memory_open = 0
        for _round in range(args.rounds):
            baseline += timed(args.port, page_cookie, pages, args.requests // args.rounds)
            memory_before = rss_kb(server.pid)
            holder = StreamHolder(args.port, stream_cookies, args.streams, args.per_user)
            holder.start()
            opened = holder.wait_open(timeout=120)
            refused = holder.refused
            if opened < args.streams:
                raise SystemExit(f"only {opened} of {args.streams} streams opened; refused: {refused}")
            memory_open = rss_kb(server.pid)
            events_before = holder.events
            with_streams += timed(args.port, page_cookie, pages, args.requests // args.rounds)
            events += holder.events - events_before
            holder.stop()
        print(
            f"{opened:,} streams open on one process ({refused} refused); {args.rounds} rounds; "
            f"{args.changes_per_second:g} changes/s published throughout"
        )
        for name, values in (("no stream open", baseline), (f"{opened:,} streams open", with_streams)):
            print(
                f"  {name:22} p50 {percentile(values, 0.5):6.1f} ms  p95 {percentile(values, 0.95):6.1f} ms"
                f"  ({len(values)} requests)"
            )
        p50 = percentile(with_streams, 0.5) / percentile(baseline, 0.5)
        p95 = percentile(with_streams, 0.95) / percentile(baseline, 0.95)
        print(f"  ratio with/without     p50 {p50:.2f}  p95 {p95:.2f}  (within 20%: {max(p50, p95) <= 1.2})")
        print(f"  events the streams received while timed: {events:,} ({events / max(1, opened):.1f} per stream)")
        print(
            f"  server memory: {memory_before / 1024:.0f} MB before, {memory_open / 1024:.0f} MB with the streams "
            f"({(memory_open - memory_before) / max(1, opened):.1f} KB per stream)"
        )
        # A closed page frees its place at once: the per-user cap lets the same user open again.
        again = StreamHolder(args.port, stream_cookies[:1], args.per_user, args.per_user)
        again.start()
        reopened = again.wait_open(timeout=30)
        again.stop()
        print(f"  after closing: user 1 reopened {reopened} of {args.per_user} streams ({again.refused} refused)")
    finally:
        changer.stop()
        server.terminate()
        server.wait(timeout=30)


def stream_user(n):
    from django.contrib.auth.models import Group, Permission, User

    user, created = User.objects.get_or_create(username=f"bench-stream-{n}")
    if created:
        user.groups.add(Group.objects.get(name="RiskWarningReadOnly"))
        user.user_permissions.add(Permission.objects.get(codename="view_desk"))
    return user


def session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def timed(port, cookie, pages, count) -> list[float]:
    """Milliseconds per request, each on a new connection, as a browser's fetches after a change."""
    times = []
    for n in range(count):
        path, headers = pages[n % len(pages)]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie, **headers})
        response = connection.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        connection.close()
        if response.status != 200 or b'id="call-list"' not in body:
            raise SystemExit(f"{path}: {response.status}")
    return times


def rss_kb(pid) -> int:
    """Resident memory of the server and its worker processes."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Changer(threading.Thread):
    """Calls change several times a second, told as the recompute tells it (updated_at, then a publish)."""

    def __init__(self, call_ids, per_second):
        super().__init__(daemon=True)
        self.call_ids, self.interval = call_ids, 1 / per_second if per_second > 0 else 0
        self.stopping = threading.Event()
        self.published = 0

    def run(self):
        from django.db import connections
        from django.utils import timezone

        from risk import live
        from risk.models import MarginCall

        rng = random.Random(3)
        try:
            while not self.stopping.wait(self.interval):
                changed = rng.sample(self.call_ids, min(10, len(self.call_ids)))
                MarginCall.objects.filter(pk__in=changed).update(updated_at=timezone.now())
                live.publish(changed)
                self.published += 1
        finally:
            connections.close_all()

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10)


SPAWN = multiprocessing.get_context("spawn")


class StreamHolder(SPAWN.Process):
    """Holds ``count`` event streams open (``per_user`` for each cookie) in a process of its own (so its
    work does not slow the timed requests), counting the events they receive."""

    def __init__(self, port, cookies, count, per_user):
        super().__init__(daemon=True)
        self.port, self.cookies, self.count, self.per_user = port, cookies, count, per_user
        self._opened, self._refused, self._events = (SPAWN.Value("i", 0) for _ in range(3))
        self._stopping = SPAWN.Event()

    opened = property(lambda self: self._opened.value)
    refused = property(lambda self: self._refused.value)
    events = property(lambda self: self._events.value)

    def run(self):
        asyncio.run(self.main())

    async def main(self):
        tasks = [asyncio.create_task(self.hold(self.cookies[n // self.per_user], n * 0.002)) for n in range(self.count)]
        while not self._stopping.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def hold(self, cookie, delay):
        await asyncio.sleep(delay)  # as pages open over a moment, not in one instant
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                f"GET /calls/events/margin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                with self._refused.get_lock():
                    self._refused.value += 1
                return
            with self._opened.get_lock():
                self._opened.value += 1
            while line := await reader.readline():
                if line.startswith(b"event: calls"):
                    with self._events.get_lock():
                        self._events.value += 1
        finally:
            writer.close()

    def wait_open(self, timeout) -> int:
        deadline = time.monotonic() + timeout
        while self.opened + self.refused < self.count and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.opened

    def stop(self):
        self._stopping.set()
        self.join(timeout=30)


if __name__ == "__main__":
    main()
