"""Shared by the benchmarks: a book of N accounts in its own database, a given number of them short."""

import http.client
import os
import random
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str, *, fresh: bool) -> None:
    from bench.recompute import prepare_database

    if fresh:
        prepare_database(database_url)
    elif database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)  # a reused database may predate the newest migrations


def build_called_book(accounts: int, calls: int, *, per_account: int = 10, instruments: int = 2000, seed: int = 7):
    """``accounts`` accounts of which about ``calls`` are margin-called, every call opened through the
    recompute (so each has its trigger snapshot)."""
    from django.core.management import call_command
    from django.db import connection

    from bench.recompute import build_book
    from book.models import Account, CashBalance
    from risk.models import MarginCall
    from risk.services import recompute_accounts

    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    started = time.perf_counter()
    build_book(accounts, per_account, instruments, rng)
    ids = list(Account.objects.values_list("pk", flat=True))
    short = set(rng.sample(ids, calls))
    CashBalance.objects.exclude(account_id__in=short).update(amount=Decimal(5_000_000))
    # Cash that leaves about a tenth of the positions' value as equity: a margin or force call.
    CashBalance.objects.filter(account_id__in=short).update(amount=Decimal(-2_000_000))
    result = recompute_accounts()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would soon: the planner sees the calls just opened
    print(
        f"built {accounts:,} accounts, {result.positions:,} positions; "
        f"{MarginCall.objects.filter(closed_at__isnull=True).count():,} open calls "
        f"({time.perf_counter() - started:.0f} s)"
    )


def add_closed_calls(count: int, *, days: int = 250, seed: int = 7) -> None:
    """``count`` closed calls spread over the last ``days`` days, copied from the open ones' accounts
    and figures: the History a broker's desk builds up over months."""
    from datetime import timedelta

    from django.utils import timezone

    from risk.models import CloseCause, MarginCall

    rng = random.Random(seed)
    started = time.perf_counter()
    models = list(MarginCall.objects.filter(closed_at__isnull=True).order_by("pk"))
    if not models or not count:
        return
    causes = [CloseCause.DEPOSIT, CloseCause.LIQUIDATION, CloseCause.MARKET, CloseCause.MANUAL]
    now = timezone.now()
    made = []
    for index in range(count):
        model = models[index % len(models)]
        closed = now - timedelta(seconds=rng.randrange(days * 86_400))
        triggered = closed - timedelta(seconds=rng.randrange(3 * 86_400))
        made.append(
            MarginCall(
                account_id=model.account_id,
                kind=model.kind,
                desk_id=model.desk_id,
                status="closed",
                call_type=model.call_type,
                trigger_type=model.trigger_type,
                triggered_at=triggered,
                deadline=triggered + timedelta(days=2),
                call_amount_at_trigger=model.call_amount_at_trigger,
                nav_ratio_at_trigger=model.nav_ratio_at_trigger,
                call_amount=model.call_amount,
                nav_ratio=model.nav_ratio,
                liquid_nav=model.liquid_nav,
                equity=model.equity,
                closed_at=closed,
                updated_at=closed,
                close_cause=rng.choice(causes),
            )
        )
    MarginCall.objects.bulk_create(made, batch_size=5_000)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE risk_margincall")
    print(f"added {count:,} closed calls over {days} days ({time.perf_counter() - started:.0f} s)")


def add_orders_and_notices(orders: int, notices: int, *, days: int = 250, seed: int = 7) -> None:
    """``orders`` liquidation orders (filled but 1 in 50) and ``notices`` daily notices, each delivered by
    email and SMS (1 in 50 failed), spread over the last ``days`` days on the open calls' accounts: the
    Orders and Notices lists a broker's desk builds up over months."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from book.models import Position
    from liquidation.models import Order
    from notices.models import Delivery, Notice
    from risk.models import MarginCall

    rng = random.Random(seed)
    started = time.perf_counter()
    calls = list(MarginCall.objects.filter(closed_at__isnull=True).order_by("pk").values_list("pk", "account_id"))
    if not calls:
        return
    notices = min(notices, len(calls) * days)  # one a call and day at most
    held = dict(
        Position.objects.filter(account_id__in=[account for _, account in calls]).values_list(
            "account_id", "instrument_id"
        )
    )
    now = timezone.now()
    made = []
    for index in range(orders):
        call_id, account_id = calls[index % len(calls)]
        at = now - timedelta(seconds=rng.randrange(days * 86_400))
        status = "cancelled" if index % 50 == 0 else "filled"
        made.append(
            Order(
                account_id=account_id,
                call_id=call_id,
                instrument_id=held[account_id],
                side="sell",
                quantity=100,
                filled_quantity=100 if status == "filled" else 0,
                limit_price=Decimal("10.00"),
                status=status,
                source="batch",
                created_at=at,
                updated_at=at,
            )
        )
    Order.objects.bulk_create(made, batch_size=5_000)
    for start in range(0, notices, 20_000):
        chunk = []
        for index in range(start, min(notices, start + 20_000)):
            call_id, account_id = calls[index % len(calls)]
            # one daily notice per call and day: the days of a call's notices differ (19 and 250 share no factor)
            day = (now - timedelta(days=(index // len(calls)) * 19 % days)).date()
            chunk.append(Notice(call_id=call_id, account_id=account_id, kind="daily", key=f"bench:{index}", day=day))
        made_notices = Notice.objects.bulk_create(chunk, batch_size=5_000)
        deliveries = []
        for index, notice in enumerate(made_notices, start=start):
            at = timezone.make_aware(datetime.combine(notice.day, datetime.min.time())) + timedelta(hours=17)
            for channel in ("email", "sms"):
                failed = (index + len(channel)) % 50 == 0
                deliveries.append(
                    Delivery(
                        notice=notice,
                        channel=channel,
                        recipient="client@example.com" if channel == "email" else "+85291234567",
                        language="en",
                        body="Your account is margin-called.",
                        status="failed" if failed else "delivered",
                        error="gateway timed out" if failed else "",
                        attempts=1,
                        queued_at=at,
                        updated_at=at,
                    )
                )
        Delivery.objects.bulk_create(deliveries, batch_size=5_000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE liquidation_order")
            cursor.execute("ANALYZE notices_notice")
            cursor.execute("ANALYZE notices_delivery")
    print(
        f"added {orders:,} orders and {notices:,} notices ({2 * notices:,} deliveries) over {days} days"
        f" ({time.perf_counter() - started:.0f} s)"
    )


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def bench_trader():
    """A RiskWarningFull user who sees every desk, made once per database."""
    from django.contrib.auth.models import Group, Permission, User

    user, created = User.objects.get_or_create(username="bench-trader")
    if created:
        user.groups.add(Group.objects.get(name="RiskWarningFull"))
        user.user_permissions.add(Permission.objects.get(codename="view_desk"))
    return user


def bench_desk_trader(codes):
    """A RiskWarningFull user who sees only these desks (object permissions), made once per database."""
    from django.contrib.auth.models import Group, User
    from guardian.shortcuts import assign_perm

    from book.models import Desk

    user, created = User.objects.get_or_create(username="bench-desk-trader")
    if created:
        user.groups.add(Group.objects.get(name="RiskWarningFull"))
        for desk in Desk.objects.filter(code__in=codes):
            assign_perm("book.view_desk", user, desk)
    return user


def start_server(port: int, env: dict, *, quiet: bool = True) -> subprocess.Popen:
    """The console as production serves it (uvicorn, one process), on this port."""
    quiet_output = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
    command = [sys.executable, "-m", "margincall.serve", "--port", str(port), "--workers", "1", "--no-access-log"]
    return subprocess.Popen(command, cwd=ROOT, env=env, **quiet_output)


def wait_for_server(port: int, seconds: float = 30) -> None:
    """Until the console on this port answers its login page (it has migrated and started)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/login/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def start_worker(env: dict, log_file: str | None = None) -> subprocess.Popen:
    """A Celery worker of two processes, as on this 2-core machine; with ``log_file``, its INFO log
    (each recompute pass's line among it) is written there."""
    command = [sys.executable, "-m", "celery", "-A", "margincall", "worker", "--concurrency", "2"]
    command += ["--loglevel", "INFO", "--logfile", log_file] if log_file else ["--loglevel", "WARNING"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def vacuum() -> None:
    """Each path starts on a vacuumed database, as autovacuum keeps a production one (a server may run
    with autovacuum off: every pass leaves a dead version of most figures rows, and a table swollen by
    earlier runs slows the next)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return

    started = time.time()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('risk_accountrisk')")
        before = cursor.fetchone()[0]
        cursor.execute("VACUUM (FULL, ANALYZE) risk_accountrisk, risk_margincall, book_instrument")
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_total_relation_size('risk_accountrisk')")
        after = cursor.fetchone()[0]
    print(f"vacuumed in {time.time() - started:.0f} s (figures table {before / 1e6:,.0f} MB -> {after / 1e6:,.0f} MB)")
