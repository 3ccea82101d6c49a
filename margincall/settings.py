"""Settings for the Margin Call console.

Everything that differs between a laptop demo and production comes from the environment:

- ``DATABASE_URL``: e.g. ``postgres://user@127.0.0.1:5432/margincall``. Unset: SQLite in ``var/``.
- ``REDIS_URL``: e.g. ``redis://127.0.0.1:6379/0``. Unset: no Redis; Celery runs tasks in-process.
- ``SECRET_KEY`` (unset: one is made and kept in ``var/secret_key``).
- ``DEBUG``, ``ALLOWED_HOSTS`` (comma separated), ``CSRF_TRUSTED_ORIGINS``, ``LOG_LEVEL``.
- ``MARGINCALL_DEMO=1``: demo mode (``seed_demo`` may create demo users).

Served over HTTPS (``python manage.py check --deploy`` is clean with these):

- ``HTTPS=1``: the console is reached only over HTTPS. Turns on, each overridable by its own variable:
  ``SESSION_COOKIE_SECURE`` and ``CSRF_COOKIE_SECURE`` (cookies sent over HTTPS only),
  ``SECURE_SSL_REDIRECT`` (plain HTTP requests are redirected to HTTPS), ``SECURE_HSTS_SECONDS``
  (31536000, a year; ``0`` sends no HSTS header), ``SECURE_HSTS_INCLUDE_SUBDOMAINS`` and
  ``SECURE_HSTS_PRELOAD``. Unset: all off, for the plain-HTTP demo and tests.
- ``PROXY_SSL_HEADER``: the header a TLS-terminating proxy in front sets to ``https``, e.g.
  ``X-Forwarded-Proto``. Set it only when that proxy sets it on every request and drops the client's
  own: Django then trusts it to tell HTTPS requests. Unset: requests are HTTPS only when they reach
  Django over TLS.

Login throttling (django-axes, on the console login and the admin login alike): after
``LOGIN_FAILURE_LIMIT`` failed logins (default 10) for one username, or from one address, that
username or address is refused for ``LOGIN_COOLOFF_MINUTES`` (default 15) from its last attempt,
with a 429 page. A risk admin lifts a lock by deleting its access attempts in Django admin, or with
``python manage.py axes_reset``.

- ``PROXY_COUNT``: how many reverse proxies in front of Django add the address they saw to
  ``X-Forwarded-For``; the client's address is the entry that many from the right (the entries
  further left are the client's own word). Unset or ``0``: ``REMOTE_ADDR``. Behind a proxy, leaving
  it unset makes every user share the proxy's address.

The Content-Security-Policy (``SECURE_CSP``) is fixed here, not read from the environment.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MARGINCALL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    """On or off from the environment: 1/0, true/false, yes/no, on/off (any case); unset or empty, the
    default. Anything else stops the start, naming the variable: 'maybe' is not quietly off."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {value[:40]!r}")


def env_int(name: str, default: int, low: int | None = None, high: int | None = None) -> int:
    """A whole number from the environment, within ``low`` to ``high`` where given; one that is not stops
    the start, naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    bounds = f" from {low} to {high}" if low is not None and high is not None else ""
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", value):
        raise ImproperlyConfigured(f"{name} must be a whole number{bounds}, got {value[:40]!r}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ImproperlyConfigured(f"{name} must be a whole number{bounds}, got {value[:40]!r}")
    return number


def env_float(name: str, default: float) -> float:
    """A number from the environment (a finite one, in ASCII digits); one that is not stops the start."""
    value = os.environ.get(name, "").strip()
    if not value:
        return float(default)
    if not re.fullmatch(r"[+-]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)", value):
        raise ImproperlyConfigured(f"{name} must be a number such as 10 or 0.5, got {value[:40]!r}")
    return float(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
DEMO = env_bool("MARGINCALL_DEMO", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # No key given: make one for this installation and keep it, so sessions survive restarts.
    import secrets

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
CSRF_FAILURE_VIEW = "console.errors.csrf_failure"

# A batch from the Risk Warning list sends up to 1,000 selected calls (risk.forms.MAX_BATCH_CALLS), one
# form value each, beside its own fields: a request with a few more is answered by the form, which
# names the limit, not refused whole as Django's default of 1,000 values would.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# Transport security: one switch for the safe set, each setting overridable on its own.
HTTPS = env_bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=HTTPS)
# The health check is asked over plain HTTP on the server's own port (an orchestrator, docker-compose).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, 0, 10 * 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=HTTPS)
PROXY_SSL_HEADER = os.environ.get("PROXY_SSL_HEADER", "").strip()
if PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + PROXY_SSL_HEADER.upper().replace("-", "_"), "https")

INSTALLED_APPS = [
    # First: its templates (the layout, login, the guardian admin page) override the libraries' own.
    "console",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "guardian",
    "console.third_party.LoginAttemptsConfig",  # django-axes
    "book",
    "risk",
    "liquidation",
    "notices",
    "recovery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "console.middleware.forms_in_utf8",  # before the first reader of a form: the CSRF check
    "console.middleware.DatabaseAway",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy: scripts, styles, requests (htmx, the event stream) and forms from this site
# only; no inline script or style, no plugin, no framing. The favicon is a data: URL.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

ROOT_URLCONF = "margincall.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "console.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "margincall.wsgi.application"
ASGI_APPLICATION = "margincall.asgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database address ({error})") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        from psycopg_pool import ConnectionPool

        # Under ASGI every request runs in a thread of its own: a per-process pool lends each one a
        # connection and takes it back at the end, instead of each thread keeping its own.
        DATABASES["default"]["OPTIONS"] = {
            **DATABASES["default"].get("OPTIONS", {}),
            "pool": {
                "min_size": env_int("DB_POOL_MIN", 1),
                "max_size": env_int("DB_POOL_MAX", 10),
                "timeout": env_float("DB_POOL_TIMEOUT", 10),
                # A connection the server ended (a restart, a terminated backend) is found out and replaced
                # when it is lent, not handed to a request to fail on.
                "check": ConnectionPool.check_connection,
            },
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "margincall.sqlite3",
            "OPTIONS": {
                # WAL lets the console read while the worker writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # The tests' database is a file too (not SQLite's shared in-memory one, whose table locks
            # fail at once instead of waiting): the browser tests' server and the tests write as the
            # demo's processes do. One per test run, so two runs never share one.
            "TEST": {"NAME": VAR_DIR / f"test-{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# An index's non-key (INCLUDE) columns serve PostgreSQL's index-only scans; SQLite indexes the key
# columns alone, which is what it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# The model whose rows scope what a user sees (console/querysets.py): django-guardian grants of its
# view permission, per desk.
CONSOLE_DESK_MODEL = "book.Desk"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling, per username and per address (either one over the limit is refused).
PROXY_COUNT = env_int("PROXY_COUNT", 0, 0, 10)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, 1, 1_000_000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, 1, 525_600))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "margincall.security.client_ip"
AXES_USERNAME_CALLABLE = "margincall.security.client_username"
AXES_LOCKOUT_CALLABLE = "margincall.security.lockout_response"
AXES_VERBOSE = False  # no start-up banner on every manage.py command; failures and lockouts are still logged

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "risk:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["margincall.formats"]  # dates typed year first in every language
TIME_ZONE = "Asia/Hong_Kong"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REDIS_URL = os.environ.get("REDIS_URL", "")
# A Redis that hangs (its socket open, no answer) fails a call in 2 s, not after the kernel gives up:
# each tick asks the cache, and sends the recompute pass, while a request waits.
REDIS_TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 2}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 2}
    CACHES = {
        "default": {"BACKEND": "margincall.cache.SharedRedisCache", "LOCATION": REDIS_URL, "OPTIONS": REDIS_TIMEOUTS}
    }
else:
    # Embedded default: tasks run in the calling process, through the same task code.
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "margincall.celery:Beat"  # the queue away is said once, not per task due
# Liquidation orders go through this gateway (liquidation/gateway.py; docs/liquidation.md).
LIQUIDATION_GATEWAY = os.environ.get("LIQUIDATION_GATEWAY", "liquidation.gateway.SimulatedExchange")
# An order the gateway has not taken this long after it was placed is sent again (beat, this often).
ORDER_RESUBMIT_SECONDS = env_float("ORDER_RESUBMIT_SECONDS", 30)
# One the gateway has still not taken this long after it was placed is rejected, never sent late.
ORDER_SEND_GIVE_UP_SECONDS = env_float("ORDER_SEND_GIVE_UP_SECONDS", 600)
# The simulated exchange: how long before it fills, and whether it trades outside XHKG sessions.
SIMULATED_FILL_DELAY_SECONDS = env_int("SIMULATED_FILL_DELAY_SECONDS", 2, 0, 3600)
SIMULATED_EXCHANGE_ALWAYS_OPEN = env_bool("SIMULATED_EXCHANGE_ALWAYS_OPEN", default=DEMO)
# Automatic liquidation runs only in XHKG trading minutes, unless this is on (the demo, any day).
AUTO_LIQUIDATION_ANY_TIME = env_bool("AUTO_LIQUIDATION_ANY_TIME", default=DEMO)

CELERY_BEAT_SCHEDULE = {
    # The safety net behind the tick-driven recompute.
    "recompute-all": {
        "task": "risk.tasks.recompute_all",
        "schedule": env_float("FULL_RECOMPUTE_SECONDS", 300),
    },
    # Prices whose recompute is late, lost or failing: recomputed, and alerted on.
    "recompute-pending": {
        "task": "risk.tasks.recompute_pending",
        "schedule": env_float("PENDING_SWEEP_SECONDS", 15),
    },
    # Cheap when there is nothing to do; each rule set's snapshot time decides when it acts.
    "daily-snapshots": {"task": "risk.tasks.daily_snapshots", "schedule": 60.0},
    # Calls whose auto-liquidation time has come (and, where a rule set says so, past their deadline).
    "auto-liquidate": {"task": "liquidation.tasks.auto_liquidate", "schedule": 60.0},
    # Liquidation batches that never started (the broker was away) or lost their worker.
    "resume-batches": {"task": "liquidation.tasks.resume_batches", "schedule": 60.0},
    # Orders the gateway did not take when they were placed (it failed, or the process died) are sent again.
    "resubmit-orders": {
        "task": "liquidation.tasks.resubmit_orders",
        "schedule": ORDER_RESUBMIT_SECONDS,
        "options": {"expires": ORDER_RESUBMIT_SECONDS},  # runs queued behind an outage are not run late
    },
    # The simulated exchange's turn (nothing to do when LIQUIDATION_GATEWAY is a broker's own).
    "simulated-exchange": {"task": "liquidation.tasks.simulate_exchange", "schedule": 1.0},
    # Cheap when there is nothing to do; each rule set's notice time decides when it acts.
    "daily-notices": {"task": "notices.tasks.send_daily_notices", "schedule": 60.0},
    # Short stock to recover (acts only in XHKG trading; `scan_recovery` runs it at any time).
    "recovery-scan": {"task": "recovery.tasks.scan_recovery", "schedule": 900.0},
    # Deliveries left queued (a lost task, the broker away) are queued again.
    "notice-sweep": {"task": "notices.tasks.sweep_deliveries", "schedule": 60.0},
}

# Notices (docs/notices.md). Email goes through Django's mailer: SMTP from the environment in production
# (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_TIMEOUT); the demo
# (without EMAIL_HOST) writes each email to a file in var/mail/ (EMAIL_FILE_PATH). SMS and voice go
# through the gateways an admin configures; where none is and NOTICE_LOG_DIR is set (the demo:
# var/notices/), each is a line in <channel>.log there.
if os.environ.get("EMAIL_HOST") or not DEMO:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25, 1, 65535),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", default=False),
                "timeout": env_int("EMAIL_TIMEOUT", 10, 1, 600),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))},
        }
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "risk-desk@broker.example")
NOTICE_BROKER_NAME = os.environ.get("NOTICE_BROKER_NAME", "Risk Desk")
# {broker} in a notice written in Chinese; the English name where none is set.
NOTICE_BROKER_NAMES = {
    "en": NOTICE_BROKER_NAME,
    "zh-hans": os.environ.get("NOTICE_BROKER_NAME_ZH_HANS", "") or NOTICE_BROKER_NAME,
    "zh-hant": os.environ.get("NOTICE_BROKER_NAME_ZH_HANT", "") or NOTICE_BROKER_NAME,
}
NOTICE_LOG_DIR = os.environ.get("NOTICE_LOG_DIR", str(VAR_DIR / "notices") if DEMO else "")
# Where a gateway reports deliveries back (sent to it with each message); "" when not reachable.
NOTICE_STATUS_URL = os.environ.get("NOTICE_STATUS_URL", "")
NOTICE_MAX_RETRIES = env_int("NOTICE_MAX_RETRIES", 5, 0, 20)
NOTICE_RETRY_SECONDS = env_int("NOTICE_RETRY_SECONDS", 30, 1, 86_400)  # then 60, 120, ... (doubling)
NOTICE_SWEEP_AFTER_SECONDS = env_int("NOTICE_SWEEP_AFTER_SECONDS", 3600, 1, 7 * 86_400)

# Times from outside (risk/times.py). A live feed may be at most this far ahead of this clock, and
# never before the floor; a book file's as_of may be this many days either side of now.
FEED_MAX_AHEAD_SECONDS = env_float("FEED_MAX_AHEAD_SECONDS", 300)
FEED_TIME_FLOOR = os.environ.get("FEED_TIME_FLOOR", "2020-01-01")
BOOK_AS_OF_WINDOW_DAYS = env_int("BOOK_AS_OF_WINDOW_DAYS", 730, 1, 3660)

# A price whose holders' recompute has not run after this long is taken up by the sweep; after the
# second, every sweep alerts on it (logger "margincall.alerts", level ERROR).
PENDING_GRACE_SECONDS = env_float("PENDING_GRACE_SECONDS", 10)
PENDING_ALERT_SECONDS = env_float("PENDING_ALERT_SECONDS", 30)

# Memory for each recompute statement's aggregates on PostgreSQL (risk/sql_engine.py), per transaction.
RECOMPUTE_WORK_MEM = os.environ.get("RECOMPUTE_WORK_MEM", "256MB")
# Off: each batch of ticks queues its own recompute of its holders, however many are queued already
# (one task per batch, no coalescing; kept to measure the difference, bench/tick_storm.py).
RECOMPUTE_COALESCE = env_bool("RECOMPUTE_COALESCE", default=True)
# A queued recompute pass that has not started within this is taken as lost: the next price queues another.
RECOMPUTE_PASS_QUEUED_SECONDS = env_float("RECOMPUTE_PASS_QUEUED_SECONDS", 10)
# The call lists mark their figures stale when the oldest price waiting for its recompute is older.
FIGURES_STALE_SECONDS = env_float("FIGURES_STALE_SECONDS", 5)
# While HKEX trades, the call lists say when no price has come for this long (the feed may have stopped).
PRICE_FEED_QUIET_SECONDS = env_float("PRICE_FEED_QUIET_SECONDS", 300)
# A worker that has received no task for this long while tasks wait on the queues it consumes, with a
# process free, is stuck (its queue connection hung, say): it stops, for its supervisor to start it
# again. A worker shutting down or consuming no queue (an operator's drain) is left alone. 0: never.
WORKER_STALL_SECONDS = env_int("WORKER_STALL_SECONDS", 180, 0, 86_400)

# Live event streams one user may hold open in one server process (each open list page holds one).
EVENT_STREAMS_PER_USER = env_int("EVENT_STREAMS_PER_USER", 10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # console.logs.Formatter: a refused request is one line, without its traceback.
    "formatters": {
        "plain": {"()": "console.logs.Formatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

# Messages stay on the server (in the session), never in a cookie: one may hold an API token's secret,
# shown once.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
