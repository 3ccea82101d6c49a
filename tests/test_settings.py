"""Settings read from the environment: HTTPS=1 turns on the transport security set, each part
overridable; the login throttle's limit, cool-off and proxies."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
]
OFF = [False, False, False, 0, False, False, None]
VARIABLES = [*NAMES, "HTTPS", "PROXY_SSL_HEADER", "PROXY_COUNT", "LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES"]
SCRIPT = (
    "import json, sys; from django.conf import settings; "
    "print(json.dumps([getattr(settings, name) for name in sys.argv[1:]], default=str))"
)


@pytest.fixture
def settings_under(tmp_path):
    """The settings a fresh process reads with these variables (and none of ours from this one)."""

    def read(*names, **variables):
        env = {key: value for key, value in os.environ.items() if key not in VARIABLES}
        env.update(MARGINCALL_VAR_DIR=str(tmp_path), SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="margincall.settings")
        env.update(variables)
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, *(names or NAMES)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    return read


def test_plain_http_by_default(settings_under):
    assert settings_under() == OFF


def test_https_turns_on_secure_cookies_redirect_and_hsts(settings_under):
    assert settings_under(HTTPS="1") == [True, True, True, 31536000, True, True, None]


def test_each_part_can_be_overridden(settings_under):
    values = settings_under(HTTPS="1", SECURE_HSTS_SECONDS="3600", SECURE_HSTS_PRELOAD="0", SECURE_SSL_REDIRECT="0")

    assert values == [True, True, False, 3600, True, False, None]


def test_the_proxy_header_is_trusted_only_when_named(settings_under):
    values = settings_under(HTTPS="1", PROXY_SSL_HEADER="X-Forwarded-Proto")

    assert values[-1] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_the_login_throttle_reads_its_limit_cool_off_and_proxies(settings_under):
    names = ("AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME", "PROXY_COUNT")

    assert settings_under(*names) == [10, "0:15:00", 0]
    assert settings_under(*names, LOGIN_FAILURE_LIMIT="5", LOGIN_COOLOFF_MINUTES="30", PROXY_COUNT="1") == [
        5,
        "0:30:00",
        1,
    ]


PG = "postgres://u@127.0.0.1:1/x"  # a PostgreSQL address: the pool's settings apply (never reached)
SERVE = [sys.executable, "-m", "margincall.serve", "--port", "8049"]


def start(tmp_path, **variables):
    """``margincall.serve`` started with these variables: it must stop before serving, saying why."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(MARGINCALL_VAR_DIR=str(tmp_path), SECRET_KEY="x" * 50, **variables)
    return subprocess.run(SERVE, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"DB_POOL_MAX": "abc", "DATABASE_URL": PG}, "DB_POOL_MAX must be a whole number, got 'abc'"),
        ({"DB_POOL_MIN": "20", "DATABASE_URL": PG}, "got 20 and 10 (console.E001)"),
        ({"FEED_MAX_AHEAD_SECONDS": "-5"}, "FEED_MAX_AHEAD_SECONDS must be between 0 and 3600 (risk.E003)"),
        ({"FEED_MAX_AHEAD_SECONDS": "nan"}, "FEED_MAX_AHEAD_SECONDS must be a number such as 10 or 0.5, got 'nan'"),
        ({"FEED_TIME_FLOOR": "2020-13-45"}, "FEED_TIME_FLOOR must be a date YYYY-MM-DD, got '2020-13-45'"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must start with redis://, rediss:// or unix://"),
        ({"REDIS_URL": "redis://127.0.0.1:notaport/0"}, "REDIS_URL is not an address: Port could not be cast"),
        ({"EVENT_STREAMS_PER_USER": "0"}, "EVENT_STREAMS_PER_USER must be 1 to 1000, got 0"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY (--workers) is a whole number from 1 to 256, got '0'"),
        ({"WEB_CONCURRENCY": "abc"}, "WEB_CONCURRENCY (--workers) is a whole number from 1 to 256, got 'abc'"),
        ({"HTTPS": "maybe"}, "HTTPS must be 1 or 0 (true/false, yes/no, on/off), got 'maybe'"),
        ({"PROXY_COUNT": "-1"}, "PROXY_COUNT must be a whole number from 0 to 10, got '-1'"),
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT must be a whole number from 1 to 1000000, got '0'"),
        ({"NOTICE_MAX_RETRIES": "1e3"}, "NOTICE_MAX_RETRIES must be a whole number from 0 to 20, got '1e3'"),
        ({"NOTICE_RETRY_SECONDS": "600"}, "NOTICE_SWEEP_AFTER_SECONDS (3600) must be longer than the longest wait"),
    ],
)  # fmt: skip
def test_a_bad_setting_stops_the_server_before_it_serves_naming_it(tmp_path, variables, said):
    done = start(tmp_path, **variables)

    assert done.returncode == 1
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "Uvicorn running" not in done.stderr


def test_a_database_that_cannot_be_reached_stops_the_server_naming_it(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... to run")
    done = start(tmp_path, DATABASE_URL=url.rsplit("/", 1)[0] + "/margincall_no_such_database")

    assert done.returncode == 1
    assert "the database (DATABASE_URL) cannot be reached" in done.stderr
    assert 'database "margincall_no_such_database" does not exist' in done.stderr


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"DATABASE_URL": "bogus://x"}, "a setting: DATABASE_URL is not a database address (Scheme 'bogus://'"),
        ({"DATABASE_URL": "sqlite:////nonexistent/x.db"}, "the database (DATABASE_URL) cannot be used: unable"),
        ({"DB_POOL_MAX": "x", "DATABASE_URL": PG}, "a setting: DB_POOL_MAX must be a whole number, got 'x'"),
    ],
)  # fmt: skip
def test_a_command_with_a_setting_or_database_it_cannot_use_says_so_in_one_line(tmp_path, variables, said):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(MARGINCALL_VAR_DIR=str(tmp_path), SECRET_KEY="x" * 50, **variables)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrations_match"], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert done.returncode == 1
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "program", [["-m", "celery", "-A", "margincall", "worker"], ["-m", "celery", "-A", "margincall", "beat"]]
)
def test_a_bad_setting_stops_a_worker_or_beat_in_one_line(tmp_path, program):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(MARGINCALL_VAR_DIR=str(tmp_path), SECRET_KEY="x" * 50, HTTPS="maybe")
    done = subprocess.run([sys.executable, *program], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert (
        done.stderr.strip() == "cannot start: a setting: HTTPS must be 1 or 0 (true/false, yes/no, on/off), got 'maybe'"
    )
