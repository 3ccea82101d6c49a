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
