"""The console in a real browser (Debian's Chromium, headless)."""

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trader(import_book, worked_book):
    import_book(worked_book)
    user = User.objects.create_user("trader", password="trader-pass-1")
    user.groups.add(Group.objects.get(name="RiskWarningFull"))
    user.user_permissions.add(Permission.objects.get(codename="view_desk"))
    return user


def log_in(page: Page, console_server, username: str, password: str) -> None:
    page.goto(f"{console_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_trader_logs_in_switches_language_and_reads_an_account(page: Page, console_server, trader):
    log_in(page, console_server, "trader", "trader-pass-1")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()

    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="帳戶")).to_be_visible()

    page.get_by_placeholder("證券帳號或客戶名稱").fill("M100001")
    page.get_by_role("button", name="查找").click()

    expect(page).to_have_url(re.compile(r"/accounts/M100001/$"))
    expect(page.locator('[data-figure="call_amount"]')).to_have_text("135,400.00")
    expect(page.locator('[data-figure="nav_ratio"]')).to_have_text("10.45%")
    expect(page.locator('[data-figure="exposure"]')).to_have_text("840,000.00")
    expect(page.get_by_test_id("call-type")).to_have_text("強平追保")
    expect(page.get_by_test_id("positions").locator("tbody tr")).to_have_count(3)

    page.get_by_role("button", name="English").click()
    expect(page.get_by_test_id("call-type")).to_have_text("Force call")


def test_wrong_password_says_so(page: Page, console_server, trader):
    log_in(page, console_server, "trader", "wrong")

    expect(page.get_by_role("alert")).to_have_text("The username or password is not right.")
