"""From a price tick to the changed row on an open page: ``python -m bench.tick_latency --database-url postgres://...``.

Runs the real parts: the console server (uvicorn, as production), a Celery worker on the Redis broker, the
page's event stream. For each tick it times: POST /api/ticks -> the stream names the changed call ->
the page's row fragment (what the browser fetches) comes back with the new figures and the "updated"
mark. Prints p50/p95/p99/max. Uses its own database (emptied first, unless --reuse).
"""

import argparse
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
from decimal import Decimal


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""), required=False)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reuse", action="store_true", help="use the book already in the database")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("--database-url postgres://... is needed: the worker and the server share it")

    from bench.common import (
        bench_trader,
        build_called_book,
        percentile,
        setup_django,
        start_server,
        start_worker,
        wait_for_server,
    )

    os.environ["REDIS_URL"] = args.redis_url
    setup_django(args.database_url, fresh=not args.reuse)
    if not args.reuse:
        build_called_book(args.accounts, args.calls)
    from margincall.celery import app

    app.control.purge()  # the notices of the calls just opened: the worker here is for the ticks

    from django.test import Client

    from book.models import ApiToken, Instrument, Position
    from risk.models import MarginCall

    user = bench_trader()
    login = Client()
    login.force_login(user)
    cookie = f"sessionid={login.cookies['sessionid'].value}"
    ApiToken.objects.filter(name="bench").delete()
    api_token = ApiToken(name="bench")
    token = api_token.issue()
    api_token.save()

    open_calls = dict(
        MarginCall.objects.filter(closed_at__isnull=True, account__kind="margin").values_list("account_id", "pk")
    )
    pairs = []
    for account_id, instrument_id in Position.objects.filter(account_id__in=list(open_calls)[:2000]).values_list(
        "account_id", "instrument_id"
    ):
        pairs.append((instrument_id, open_calls[account_id], account_id))
    rng = random.Random(11)
    rng.shuffle(pairs)
    symbols = dict(Instrument.objects.values_list("pk", "symbol"))
    prices = dict(Instrument.objects.values_list("pk", "price"))
    accounts = dict(MarginCall.objects.filter(pk__in=open_calls.values()).values_list("pk", "account__account_no"))

    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    server = start_server(args.port, env)
    worker = start_worker(env)
    events: queue.Queue = queue.Queue()
    try:
        wait_for_server(args.port)
        threading.Thread(target=listen, args=(args.port, cookie, events), daemon=True).start()
        time.sleep(1.0)
        print(f"server pid {server.pid}, worker pid {worker.pid}; {len(pairs):,} (instrument, call) pairs")
        to_event, to_row, missed, warm_missed = [], [], 0, 0
        warmup = 5  # ticks not measured: the server's and the worker's first requests (imports, connections)
        for n, (instrument_id, call_id, _account_id) in enumerate(pairs[: args.ticks + warmup]):
            prices[instrument_id] = (prices[instrument_id] * Decimal("1.003" if n % 2 else "0.997")).quantize(
                Decimal("0.001")
            )
            tick = [
                {
                    "symbol": symbols[instrument_id],
                    "price": str(prices[instrument_id]),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                }
            ]
            drain(events)
            started = time.perf_counter()
            answer = post(args.port, "/api/ticks", json.dumps(tick), {"Authorization": f"Bearer {token}"})
            assert answer["applied"] == 1, answer
            seen = wait_for_call(events, call_id, timeout=10)
            if seen is None:
                if n >= warmup:
                    missed += 1
                else:  # a worker still starting on a loaded machine: said below, not counted as missed
                    warm_missed += 1
                continue
            html = get(
                args.port,
                f"/risk-warning/?q={accounts[call_id]}&changed={call_id}",
                {"Cookie": cookie, "HX-Request": "true"},
            )
            done = time.perf_counter()
            if f'data-call="{call_id}"' not in html or "updated-mark" not in html:
                raise SystemExit(f"call {call_id}: the row came back without its new figures and mark")
            if n >= warmup:
                to_event.append((seen - started) * 1000)
                to_row.append((done - started) * 1000)
            time.sleep(0.1)
        print(f"{len(to_row)} ticks, {missed} missed (no event within 10 s)")
        if warm_missed:
            print(f"  {warm_missed} of {warmup} warm-up ticks (not measured) had no event within 10 s")
        for name, values in (("tick -> event on the page's stream", to_event), ("tick -> row with mark", to_row)):
            print(
                f"  {name:36} p50 {percentile(values, 0.5):6.0f} ms  p95 {percentile(values, 0.95):6.0f} ms"
                f"  p99 {percentile(values, 0.99):6.0f} ms  max {max(values):6.0f} ms"
            )
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=30)


def listen(port, cookie, events):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/calls/events/margin/", headers={"Cookie": cookie, "Accept": "text/event-stream"})
    response = connection.getresponse()
    while True:
        line = response.fp.readline()
        if not line:
            return
        if line.startswith(b"data:"):
            events.put((time.perf_counter(), set(json.loads(line[5:])["calls"])))


def drain(events):
    while not events.empty():
        events.get_nowait()


def wait_for_call(events, call_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            at, ids = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if call_id in ids:
            return at
    return None


def post(port, path, body, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
    return json.loads(connection.getresponse().read())


def get(port, path, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers)
    return connection.getresponse().read().decode()


if __name__ == "__main__":
    main()
