"""Each benchmark in bench/ runs end to end on a tiny book and prints its figures (and, for those that
measure a baseline in the same run, its ratio to it): the commands the README and the docs give keep
working. The figures of a tiny book mean nothing; their size is measured by running the benchmarks."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def bench_urls():
    """A database and a Redis database of the benchmarks' own, beside the tests' (a benchmark empties
    both); the database is dropped afterwards."""
    base, _, name = os.environ["DATABASE_URL"].rpartition("/")
    database = f"{name}_bench"
    redis_base, _, redis_db = os.environ["REDIS_URL"].rpartition("/")
    redis_url = f"{redis_base}/{(int(redis_db or 0) + 1) % 16}"
    yield f"{base}/{database}", redis_url
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


TINY = {
    "engine": (["--accounts", "300", "--repeat", "1"], [r"full recompute", r"[\d.]+x the in-memory evaluation"]),
    "recompute": (["--accounts", "300"], [r"full recompute: 300 accounts", r"one price change: \d+ holders"]),
    "risk_warning": (
        [
            "--accounts",
            "300",
            "--calls",
            "30",
            "--closed",
            "300",
            "--orders",
            "200",
            "--notices",
            "100",
            "--requests",
            "3",
        ],
        [
            r"all views: p50 [\d.]+ ms",
            r"Accounts page \(landing\) +p50",
            r"closed calls: 300; orders: 200; deliveries: 200;",
            r"History page 100 +p50",
            r"Orders page 100 +p50",
            r"Orders of stock recovery +p50",
            r"vacuumed in \d+ s",
            r"Notices failed +p50",
        ],
    ),
    "liquidation": (
        ["--accounts", "200", "--positions", "5", "--calls", "20"],
        [r"ratio [\d.]+x", r"batch of 20 calls planned and placed"],
    ),
    "notices": (["--accounts", "300", "--calls", "30"], [r"daily job over \d+ eligible open calls", r"delivered"]),
    "tick_body": (["--stocks", "100", "--repeat", "1"], [r"ticks +request +per tick", r"\n +100 +[\d.]+ .* [\d.]+\n"]),
    "tick_latency": (
        ["--accounts", "300", "--calls", "30", "--ticks", "3"],
        [r"3 ticks, 0 missed", r"tick -> row with mark +p50 +\d+ ms"],
    ),
    "streams": (
        ["--accounts", "300", "--calls", "30", "--streams", "3", "--requests", "3", "--rounds", "1"],
        [r"ratio with/without +p50 [\d.]+"],
    ),
    "tick_storm": (
        ["--accounts", "400", "--instruments", "40", "--rate", "10", "--seconds", "2", "--drain", "20"],
        [
            r"coalescing: \d+ ticks applied",
            r"naive \(one recompute per tick\): \d+ ticks applied",
            r"tick -> stored figures +p50 +\d+ ms",
            r"naive / coalescing:",
            r"backlog cleared",
            r"the floor here",
        ],
    ),
}


@pytest.mark.parametrize("bench", sorted(TINY))
def test_benchmark_runs_and_prints_its_figures(bench, bench_urls):
    options, expected = TINY[bench]
    database_url, redis_url = bench_urls
    command = [sys.executable, "-m", f"bench.{bench}", "--database-url", database_url, *options]
    help_text = subprocess.run([*command[:3], "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    if "--redis-url" in help_text:
        command += ["--redis-url", redis_url]
    if "--port" in help_text:
        command += ["--port", str(free_port())]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url}
    env.pop("DATABASE_URL")
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    missing = [pattern for pattern in expected if not re.search(pattern, run.stdout)]
    assert not missing, f"{missing} not in:\n{run.stdout[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
