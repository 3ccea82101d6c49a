"""What an operator relies on: the health check, the database out of reach, prices nobody follows, and
the start-up check of a database not migrated yet."""

import datetime as dt
import logging

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from book import pending
from book.models import Instrument, PendingRecompute
from console import middleware
from risk import services
from tests.book.test_ticks import post
from tests.books import one_stock_book

pytestmark = pytest.mark.django_db


def test_the_health_check_says_each_part_ok_and_how_far_the_figures_are_behind(import_book, settings):
    settings.REDIS_URL = ""
    import_book(one_stock_book())
    PendingRecompute.objects.create(
        instrument=Instrument.objects.get(symbol="S.HK"), since=timezone.now() - dt.timedelta(seconds=30)
    )

    response = Client().get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("status", "database", "redis", "prices_waiting")} == {
        "status": "ok",
        "database": "ok",
        "redis": "not used",
        "prices_waiting": 1,
    }
    assert 29 <= body["figures_behind_seconds"] <= 40


def test_the_health_check_is_503_when_the_database_does_not_answer(monkeypatch, settings):
    settings.REDIS_URL = ""

    def away(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("margincall.health.connection.cursor", away)

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "redis": "not used"}


def test_the_health_check_is_503_when_redis_does_not_answer(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    from console.push import _redis

    _redis.cache_clear()
    try:
        response = Client().get("/healthz")
    finally:
        _redis.cache_clear()

    assert (response.status_code, response.json()["redis"]) == (503, "unreachable")


@pytest.fixture
def database_away(monkeypatch):
    def away(*args, **kwargs):
        raise OperationalError("connection failed: Connection refused") from ConnectionRefusedError()

    monkeypatch.setattr(middleware, "DATABASE_AWAY", middleware.Outage(remind_seconds=300))
    return away


def test_the_database_out_of_reach_is_a_503_with_retry_after_said_once(
    import_book, token, monkeypatch, database_away, caplog
):
    import_book(one_stock_book())
    tick = [{"symbol": "S.HK", "price": "90", "time": "2026-12-23T11:00:00+08:00"}]

    with caplog.at_level(logging.ERROR, logger="margincall.alerts"), monkeypatch.context() as away:
        away.setattr("book.api.ticks.apply_and_recompute", database_away)
        answers = [post(tick, token) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [503, 503, 503]
    assert answers[0]["Retry-After"] == "5"
    assert answers[0].json() == {"error": "the database is out of reach; try again shortly"}
    said = [record.getMessage() for record in caplog.records if record.name == "margincall.alerts"]
    assert said == ["the database is out of reach (connection failed: Connection refused): requests are answered 503"]
    with caplog.at_level(logging.WARNING, logger="margincall.alerts"):
        assert post(tick, token).status_code == 200  # the database answers again: said once

    said = [record.getMessage() for record in caplog.records if record.name == "margincall.alerts"]
    assert len(said) == 2
    assert said[1].startswith("the database answers again (after ")


def test_a_page_when_the_database_is_out_of_reach_is_the_consoles_own_503(trader, monkeypatch, database_away):
    from tests.users import client_for

    client = client_for(trader)
    monkeypatch.setattr("risk.call_views.CallListView.get", database_away)

    response = client.get("/risk-warning/")

    assert response.status_code == 503
    assert "cannot reach its database just now" in response.content.decode()


def test_while_the_database_is_known_away_requests_are_answered_at_once_and_pass_once_it_answers(
    trader, monkeypatch, caplog
):
    from tests.users import client_for

    client = client_for(trader)
    probes = []
    monkeypatch.setattr(middleware, "DATABASE_AWAY", middleware.Outage(remind_seconds=300))
    monkeypatch.setattr(middleware, "_probe", {"at": -10.0, "answered": False})
    monkeypatch.setattr(middleware, "_connects", lambda: probes.append("away") or False)
    with caplog.at_level(logging.ERROR, logger="margincall.alerts"):
        middleware.DATABASE_AWAY.failed("the database is out of reach (test)")

    with monkeypatch.context() as away:
        away.setattr("risk.call_views.CallListView.get", lambda *args, **kwargs: pytest.fail("the view ran"))
        answers = [client.get("/risk-warning/") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [503, 503, 503]
    assert "cannot reach its database just now" in answers[0].content.decode()
    assert probes == ["away"]  # asked once in PROBE_SECONDS, not once per request
    # The database answers again: the next probe lets requests through, and the outage is over.
    monkeypatch.setattr(middleware, "_probe", {"at": -10.0, "answered": False})
    monkeypatch.setattr(middleware, "_connects", lambda: True)
    assert client.get("/risk-warning/").status_code == 200
    assert middleware.DATABASE_AWAY.since is None


@pytest.mark.postgres
def test_the_outage_probe_connects_on_its_own_and_gives_up_quickly(db, monkeypatch):
    import time

    from django.db import connection

    assert middleware._connects()
    params = connection.get_connection_params()
    monkeypatch.setattr(connection, "get_connection_params", lambda: {**params, "host": "127.0.0.1", "port": 1})
    started = time.monotonic()
    assert not middleware._connects()
    assert time.monotonic() - started < 5


def test_a_statement_the_database_refuses_is_not_taken_for_an_outage():
    from psycopg import errors

    refused = OperationalError("deadlock detected")
    refused.__cause__ = errors.DeadlockDetected("deadlock detected")
    dropped = OperationalError("server closed the connection unexpectedly")
    dropped.__cause__ = errors.AdminShutdown("terminating connection due to administrator command")

    assert not middleware.database_away(refused)
    assert middleware.database_away(dropped)


def test_an_action_the_database_undid_to_break_a_deadlock_is_a_503_to_send_again_and_no_outage(
    trader, monkeypatch, caplog
):
    from psycopg import errors

    from tests.users import client_for

    def deadlocked(*args, **kwargs):
        raise OperationalError("deadlock detected") from errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(middleware, "DATABASE_AWAY", middleware.Outage(remind_seconds=300))
    monkeypatch.setattr("risk.call_views.ExceptionBatchView.post", deadlocked)

    with caplog.at_level(logging.WARNING):
        response = client_for(trader).post(reverse("risk:exception-batch"), {"action": "mark"})

    assert (response.status_code, response["Retry-After"]) == (503, "1")
    assert "Another action was changing the same records at the same moment" in response.content.decode()
    assert not [record for record in caplog.records if record.name == "margincall.alerts"]
    assert middleware.DATABASE_AWAY.since is None


def test_a_price_nobody_follows_for_a_minute_is_alerted_on_where_prices_come_in(
    import_book, token, caplog, monkeypatch
):
    import_book(one_stock_book())
    PendingRecompute.objects.create(
        instrument=Instrument.objects.get(symbol="S.HK"), since=timezone.now() - dt.timedelta(seconds=90)
    )
    monkeypatch.setitem(pending._checked, "at", 0.0)
    tick = [{"symbol": "S.HK", "price": "90", "time": "2026-12-23T11:00:00+08:00"}]

    with caplog.at_level(logging.ERROR, logger="margincall.alerts"):
        post(tick, token)
        post(tick, token)  # within 30 s of the first: not asked again

    said = [record.getMessage() for record in caplog.records if record.name == "margincall.alerts"]
    assert len(said) == 1
    assert said[0].startswith("figures are 9")
    assert "(1 price(s) waiting for their pass): check that a worker is running" in said[0]


def test_passes_that_cannot_read_the_prices_are_said_as_an_outage(monkeypatch, caplog):
    monkeypatch.setattr(services, "PASSES_AWAY", services.Outage(remind_seconds=300))

    def away():
        raise OperationalError("couldn't get a connection after 10.00 sec")

    with caplog.at_level(logging.WARNING, logger="margincall.alerts"):
        with monkeypatch.context() as database:
            database.setattr(services.pending, "waiting", away)
            for _ in range(3):
                with pytest.raises(OperationalError):
                    services.follow_pending()
        services.follow_pending()

    said = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "margincall.alerts"]
    assert said[0] == (
        "ERROR",
        "recompute passes cannot run (couldn't get a connection after 10.00 sec): figures are not following the market",
    )
    assert said[1][0] == "WARNING"
    assert said[1][1].startswith("recompute passes run again (after ")
    assert len(said) == 2


@pytest.mark.django_db(transaction=True)
def test_a_database_with_a_migration_not_applied_is_refused_by_the_start_up_check():
    from django.db import connection

    from margincall.serve import migrations_problem, preflight

    assert migrations_problem(connection) == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, app, name, applied FROM django_migrations WHERE app = 'risk' ORDER BY id DESC")
        row = cursor.fetchone()
        cursor.execute("DELETE FROM django_migrations WHERE id = %s", [row[0]])
    try:
        problem = preflight()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, %s, %s, %s)", row)

    assert problem == (
        f"the database has 1 migration(s) not applied yet (the first: risk.{row[2]}):"
        " run python manage.py migrate first"
    )


def test_unsafe_production_settings_are_said_when_the_server_starts(settings, monkeypatch):
    from margincall.serve import deployment_warnings

    settings.DEMO, settings.DEBUG, settings.HTTPS, settings.ALLOWED_HOSTS = False, True, False, ["*"]
    monkeypatch.delenv("SECRET_KEY", raising=False)

    said = deployment_warnings()

    assert said[0] == "HTTPS is off (HTTPS=0): no redirect to HTTPS, no HSTS, cookies not marked secure"
    assert "You should not have DEBUG set to True in deployment. (security.W018)" in said
    assert "ALLOWED_HOSTS takes any host name (*): name the console's own" in said
    assert said[-1].startswith("SECRET_KEY is not set")
    settings.DEMO = True
    assert deployment_warnings() == []  # the demo runs as it is meant to
