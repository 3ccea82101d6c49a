"""Login throttling (django-axes): per username and per address, on the console login and the admin
login, with a translated 429 page; the client's address taken safely behind a proxy."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from margincall.security import client_ip
from tests.users import make_user

pytestmark = pytest.mark.django_db
LIMIT = 3
LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    # What is counted is under test, not the hash: a fast one keeps the many logins quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def trader(db):
    return make_user("trader", "RiskWarningFull")


def from_address(address: str, **extra) -> Client:
    return Client(REMOTE_ADDR=address, **extra)


def log_in(client, username, password, url=LOGIN):
    return client.post(url, {"username": username, "password": password})


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_by_default_ten_failures_lock_a_username_or_an_address_for_15_minutes():
    from margincall import settings as project  # as read at start-up, not this module's smaller limit

    assert project.AXES_FAILURE_LIMIT == 10
    assert project.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert project.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert project.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert project.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_after_the_limit_of_wrong_passwords_the_right_one_is_refused(trader):
    client = from_address("10.0.0.1")
    for _ in range(LIMIT - 1):
        assert log_in(client, "trader", "wrong").status_code == 200  # the form, saying so

    locked = log_in(client, "trader", "wrong")
    assert locked.status_code == 429
    response = log_in(client, "trader", "pw-trader")

    assert response.status_code == 429
    assert not is_logged_in(client)
    html = response.content.decode()
    assert "Too many failed logins" in html
    assert "After 3 failed logins for this user or from this address" in html
    assert "Try again in 15 minutes" in html
    assert 'class="topbar"' in html  # the console's layout, not a bare string
    assert response["Retry-After"] == "900"
    assert "no-store" in response["Cache-Control"]


def test_the_user_is_locked_from_every_address_and_other_users_are_not(trader):
    make_user("viewer", "RiskWarningReadOnly")
    attacker = from_address("10.0.0.1")
    for _ in range(LIMIT):
        log_in(attacker, "trader", "wrong")

    elsewhere = from_address("10.0.0.2")
    assert log_in(elsewhere, "trader", "pw-trader").status_code == 429
    assert not is_logged_in(elsewhere)
    response = log_in(elsewhere, "viewer", "pw-viewer")
    assert response.status_code == 302
    assert is_logged_in(elsewhere)


def test_an_address_is_locked_whatever_usernames_it_tries(trader):
    attacker = from_address("10.0.0.3")
    for n in range(LIMIT):
        log_in(attacker, f"guess{n}", "wrong")

    assert log_in(attacker, "trader", "pw-trader").status_code == 429
    elsewhere = from_address("10.0.0.4")
    assert log_in(elsewhere, "trader", "pw-trader").status_code == 302


def test_the_admin_login_is_throttled_too(db):
    User.objects.create_superuser("root", password="root-pass-1")
    client = from_address("10.0.0.5")
    for _ in range(LIMIT - 1):
        assert log_in(client, "root", "wrong", ADMIN_LOGIN).status_code == 200

    assert log_in(client, "root", "wrong", ADMIN_LOGIN).status_code == 429
    response = log_in(client, "root", "root-pass-1", ADMIN_LOGIN)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # still to the login


def test_failures_on_one_login_count_on_the_other(trader):
    client = from_address("10.0.0.6")
    log_in(client, "trader", "wrong", ADMIN_LOGIN)
    for _ in range(LIMIT - 1):
        log_in(client, "trader", "wrong")

    assert log_in(client, "trader", "pw-trader", ADMIN_LOGIN).status_code == 429


def test_the_lock_ends_after_the_cool_off(trader):
    client = from_address("10.0.0.7")
    for _ in range(LIMIT):
        log_in(client, "trader", "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert log_in(client, "trader", "pw-trader").status_code == 302
    assert is_logged_in(client)


@pytest.mark.parametrize(
    ("language", "heading", "text"),
    [
        ("zh-hans", "登录失败次数过多", "15 分钟后再试"),
        ("zh-hant", "登入失敗次數過多", "15 分鐘後再試"),
    ],
)
def test_the_lockout_page_is_translated(trader, language, heading, text):
    client = from_address("10.0.0.8")
    client.cookies["django_language"] = language
    for _ in range(LIMIT):
        response = log_in(client, "trader", "wrong")

    html = response.content.decode()
    assert response.status_code == 429
    assert heading in html
    assert text in html


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, "203.0.113.9", "10.1.1.1"),  # no proxy: the header is the client's word, ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # a client-made entry on the left is skipped
        (2, "198.51.100.7, 203.0.113.9, 10.2.2.2", "203.0.113.9"),
        (2, "203.0.113.9", "10.1.1.1"),  # shorter than the proxies in front: the proxy's address
        (1, "not-an-address", "10.1.1.1"),
        (1, "", "10.1.1.1"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_behind_proxies(settings, proxies, forwarded, address):
    settings.PROXY_COUNT = proxies
    request = RequestFactory().post(LOGIN, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == address


def test_behind_a_proxy_each_forwarded_address_is_throttled_on_its_own(settings, trader):
    settings.PROXY_COUNT = 1
    attacker = from_address("10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.1")
    for n in range(LIMIT):
        log_in(attacker, f"guess{n}", "wrong")
    assert log_in(attacker, "trader", "pw-trader").status_code == 429

    colleague = from_address("10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.2")  # the same proxy
    assert log_in(colleague, "trader", "pw-trader").status_code == 302


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
@pytest.mark.parametrize("username", ["u" * 256, "u" * 100_000])
def test_a_username_no_account_can_have_is_a_wrong_login_and_is_counted(url, username):
    client = from_address("10.0.0.9")

    response = log_in(client, username, "wrong", url)

    assert response.status_code == 200
    assert not is_logged_in(client)
    [attempt] = AccessAttempt.objects.all()
    assert attempt.failures_since_start == 1
    assert len(attempt.username) <= 150


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_a_username_with_a_nul_is_refused_by_the_form(url):
    client = from_address("10.0.0.9")

    response = log_in(client, "nul\x00name", "wrong", url)

    assert response.status_code == 200
    assert not is_logged_in(client)
    assert "Null characters are not allowed." in response.content.decode()  # said, not a silent form again


def test_a_password_with_a_nul_is_said_so_on_the_console_login():
    response = log_in(from_address("10.0.0.9"), "trader", "\x00", LOGIN)

    assert "Password: Null characters are not allowed." in response.content.decode()


def test_the_admin_names_the_console_and_its_login_attempts_in_the_user_s_language(db):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})

    index = client.get(reverse("admin:index")).content.decode()
    attempts = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()

    assert "Margin Call 控制台管理" in index
    assert "登录尝试" in index  # django-axes' app, which ships no Chinese
    assert "控制台" in index  # the console's own app, under its configuration (console.apps.ConsoleConfig)
    assert "Django" not in index
    assert "尝试时间" in attempts  # a django-axes column


def test_lifting_a_lock_in_the_admin_is_audited(trader):
    from django.contrib import admin

    from console.models import AuditEntry

    for _ in range(LIMIT):
        log_in(from_address("10.0.0.9"), "trader", "wrong")
    attempt = AccessAttempt.objects.get(username="trader")
    root = User.objects.create_superuser("root", password="pw")
    client = Client(REMOTE_ADDR="10.0.0.50")
    client.force_login(root)
    changelist = reverse(f"admin:{AccessAttempt._meta.app_label}_accessattempt_changelist")
    assert AccessAttempt in admin.site._registry

    response = client.post(changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"})

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    entry = AuditEntry.objects.get(action="admin_delete")
    assert (entry.user, entry.detail["model"]) == (root, "axes.AccessAttempt")
    assert log_in(from_address("10.0.0.10"), "trader", "pw-trader").status_code == 302  # the lock is lifted
