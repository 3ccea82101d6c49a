"""Run the console under uvicorn (ASGI): ``python -m margincall.serve [--host H] [--port P] [--workers N]``.

Each open list page holds one event stream: a socket and a little memory, no thread and no database
connection. The open-file limit is raised to its hard limit first, so a process can hold thousands.
Defaults come from the environment: ``HOST``, ``PORT``, ``WEB_CONCURRENCY`` (worker processes),
``FORWARDED_ALLOW_IPS`` (proxies whose X-Forwarded-* headers are trusted)."""

from __future__ import annotations

import argparse
import logging
import os
import resource

import uvicorn

from console.logs import LINE, Formatter

logger = logging.getLogger("margincall.serve")


def port(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 1 to 65535, got {text[:20]!r}")
    return int(text)


def processes(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(
            f"WEB_CONCURRENCY (--workers) is a whole number from 1 to 256, got {text[:20]!r}"
        )
    return int(text)


def raise_open_files_limit(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def preflight() -> str:
    """Why the console cannot start, or '': its settings (``manage.py check``) and its database. Run before
    any worker process starts, so a bad setting stops the start with a line that names it, instead of
    each worker dying in turn or each request failing."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as error:
        return str(error)
    from django.core import checks
    from django.db import connection

    try:
        found = checks.run_checks(include_deployment_checks=False)
    except Exception as error:  # a check that cannot run names the setting it could not read
        return f"{type(error).__name__}: {error}"
    errors = [message for message in found if message.is_serious() and not message.is_silenced()]
    if errors:
        return "; ".join(f"{message.msg} ({message.id})" for message in errors)
    return database_problem(connection) or migrations_problem(connection)


HTTPS_OFF = {"security.W004", "security.W008", "security.W012", "security.W016"}


def deployment_warnings() -> list[str]:
    """What Django's deployment checks say of these settings (DEBUG on, HTTPS off, …), and a host
    pattern that takes any name or a key not given: said when the server starts, not refused (a closed
    network may run without TLS). None for the demo."""
    import os

    from django.conf import settings
    from django.core import checks

    if settings.DEMO:
        return []
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    said = []
    if not settings.HTTPS:  # its four warnings (no redirect, no HSTS, cookies not secure) said once
        found = [message for message in found if message.id not in HTTPS_OFF]
        said.append("HTTPS is off (HTTPS=0): no redirect to HTTPS, no HSTS, cookies not marked secure")
    said += [f"{message.msg} ({message.id})" for message in found if not message.is_silenced()]
    if "*" in settings.ALLOWED_HOSTS:
        said.append("ALLOWED_HOSTS takes any host name (*): name the console's own")
    if not os.environ.get("SECRET_KEY"):
        said.append("SECRET_KEY is not set: the key kept in the var directory is used; set one for production")
    return said


def migrations_problem(connection) -> str:
    """Why the database is not this version's yet (migrations not applied), or ''. The migrations this
    version ships are read from disk; those applied, on PostgreSQL over a connection of its own (not
    one of the pool's, which the process's own work goes on using)."""
    from django.db.migrations.loader import MigrationLoader

    wanted = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    waiting = sorted(wanted - applied_migrations(connection))
    if not waiting:
        return ""
    app, name = waiting[0]
    return (
        f"the database has {len(waiting)} migration(s) not applied yet (the first: {app}.{name}):"
        " run python manage.py migrate first"
    )


def applied_migrations(connection) -> set[tuple[str, str]]:
    query = "SELECT app, name FROM django_migrations"
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            if "django_migrations" not in connection.introspection.table_names(cursor):
                return set()
            cursor.execute(query)
            return {tuple(row) for row in cursor.fetchall()}
    import psycopg

    with psycopg.connect(**{**connection.get_connection_params(), "connect_timeout": 5}) as direct:
        if direct.execute("SELECT to_regclass('django_migrations')").fetchone()[0] is None:
            return set()
        return {tuple(row) for row in direct.execute(query).fetchall()}


def database_problem(connection) -> str:
    """Why the database cannot be reached, or '' (one connection, not the pool's: its own error)."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    if connection.vendor != "postgresql":
        return ""
    import psycopg

    try:
        params = connection.get_connection_params()  # a name missing or too long is refused here
        psycopg.connect(**{**params, "connect_timeout": 5}).close()
    except (psycopg.Error, DatabaseError, ImproperlyConfigured) as error:
        return f"the database (DATABASE_URL) cannot be reached: {str(error).strip()}"
    return ""


# uvicorn's own lines (started, stopped, each request) in the console's format: time with its offset.
UVICORN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"()": "console.logs.Formatter", "format": LINE}},
    "handlers": {"plain": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["plain"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["plain"], "level": "INFO", "propagate": False},
    },
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m margincall.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=port, help="default: PORT, else 8000")
    parser.add_argument("--workers", type=processes, help="processes (default: WEB_CONCURRENCY, else the cores)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info").lower())
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")
    files = raise_open_files_limit()
    handler = logging.StreamHandler()
    handler.setFormatter(Formatter(LINE))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    try:  # the defaults from the environment, read as the options are: a bad one is a bad setting
        if args.port is None:
            args.port = port(os.environ.get("PORT") or "8000")
        if args.workers is None:
            args.workers = processes(os.environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 1))
    except argparse.ArgumentTypeError as error:
        logger.error("cannot start: %s", error)
        raise SystemExit(1) from None
    problem = preflight()
    if problem:
        logger.error("cannot start: %s", problem)
        raise SystemExit(1)
    for warning in deployment_warnings():
        logger.warning("deployment check: %s", warning)
    logger.info("open-file limit %d per process; %d worker(s) on %s:%d", files, args.workers, args.host, args.port)
    uvicorn.run(
        "margincall.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="off",  # Django has no lifespan events
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # Event streams never end by themselves: give them a moment to close, then stop.
        timeout_graceful_shutdown=5,
        timeout_keep_alive=10,
        log_level=args.log_level,
        log_config=UVICORN_LOGGING,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
