"""The Risk Warning page in a real browser: live rows, exception tab, read-only view, Chinese."""

import re

import pytest
from playwright.sync_api import Page, expect

from book import ticks
from tests.books import one_stock_book
from tests.browser.csp import csp_violations
from tests.browser.test_console import log_in
from tests.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)
    import_book(one_stock_book(as_of="2026-11-20T10:00:00+08:00"))


def row(page: Page, account_no: str):
    return page.locator(f'tr[data-account="{account_no}"]')


def test_a_tick_updates_the_row_live_with_its_mark(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("40,000.00")
    expect(row(page, "T1").get_by_test_id("updated-mark")).to_have_count(0)
    expect(page.locator("#count-active")).to_have_text("2")
    page.wait_for_timeout(300)  # the event stream is open

    # 100 -> 95: equity 35,000; still a margin call (FM 38,000 > equity -> force call).
    result = ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": "2026-11-20T11:00:00+08:00"}])
    assert result.applied == 1

    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("35,000.00", timeout=5000)
    expect(row(page, "T1").get_by_test_id("updated-mark")).to_be_visible()
    expect(row(page, "T1")).to_have_class(re.compile(r"\bupdated\b"))
    expect(row(page, "T1").locator(".pill")).to_have_text("Force call")
    expect(row(page, "M100001").get_by_test_id("updated-mark")).to_have_count(0)

    # A rise to 120 meets the call: the row leaves the page by itself.
    ticks.apply_and_recompute([{"symbol": "S.HK", "price": "120", "time": "2026-11-20T11:01:00+08:00"}])
    expect(row(page, "T1")).to_have_count(0, timeout=5000)
    expect(page.get_by_test_id("total-call-amount")).to_have_text("135,400.00")
    expect(page.locator("#count-active")).to_have_text("1")  # the tab counts follow too


def test_a_calls_page_head_follows_a_tick_with_its_freshness(page: Page, console_server, book):
    from risk.models import MarginCall

    make_user("viewer", "RiskWarningReadOnly")
    log_in(page, console_server, "viewer", "pw-viewer")
    call = MarginCall.objects.get(account__account_no="T1")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    expect(page.get_by_test_id("amount-now").locator(".value")).to_have_text("10,000.00")
    expect(page.get_by_test_id("call-type")).to_have_text("Margin call")

    # 100 -> 95: the call amount grows to 12,500 and the call becomes a force call.
    ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": "2026-11-20T11:00:00+08:00"}])

    expect(page.get_by_test_id("amount-now").locator(".value")).to_have_text("12,500.00", timeout=8000)
    expect(page.get_by_test_id("call-type")).to_have_text("Force call")


def test_the_rows_hold_still_while_some_are_ticked_and_follow_once_none_is(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("40,000.00")
    page.wait_for_timeout(300)  # the event stream is open
    row(page, "M100001").get_by_role("checkbox").check()

    ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": "2026-11-20T11:00:00+08:00"}])

    expect(page.get_by_test_id("live-paused")).to_be_visible(timeout=5000)
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("40,000.00")  # held
    row(page, "M100001").get_by_role("checkbox").uncheck()
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("35,000.00", timeout=5000)
    expect(row(page, "T1").get_by_test_id("updated-mark")).to_be_visible()
    expect(page.get_by_test_id("live-paused")).to_be_hidden()


def test_the_page_works_live_under_the_content_security_policy(page: Page, console_server, book):
    violations = csp_violations(page)
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    response = page.goto(f"{console_server.url}/risk-warning/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("40,000.00")
    page.wait_for_timeout(300)  # the event stream is open

    ticks.apply_and_recompute([{"symbol": "S.HK", "price": "95", "time": "2026-11-20T11:00:00+08:00"}])

    # The event stream, the htmx fetch and the swap all ran under the policy.
    expect(row(page, "T1").locator('[data-figure="equity"]')).to_have_text("35,000.00", timeout=5000)
    expect(row(page, "T1").get_by_test_id("updated-mark")).to_be_visible()
    row(page, "T1").get_by_role("checkbox").check()
    expect(page.get_by_test_id("mark-exception")).to_be_enabled()
    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="風險預警")).to_be_visible()
    assert violations == []

    # The check is not idle: an inline style is refused and reported.
    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body { color: red; }</style>')")
    page.wait_for_timeout(200)
    assert len(violations) == 1
    assert "style-src" in violations[0]


def test_marking_exception_moves_the_row_to_the_exception_tab(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")

    expect(page.get_by_test_id("mark-exception")).to_be_disabled()
    row(page, "T1").get_by_role("checkbox").check()
    expect(page.get_by_test_id("selected-count")).to_contain_text("1")
    page.get_by_placeholder("Reason for the exception").fill("client disputes the price")
    page.get_by_test_id("mark-exception").click()

    expect(page.get_by_role("status")).to_contain_text("1 call marked as exception.")
    expect(row(page, "T1")).to_have_count(0)
    expect(page.get_by_test_id("tab-exception")).to_contain_text("1")
    page.get_by_test_id("tab-exception").click()
    expect(row(page, "T1")).to_be_visible()
    expect(row(page, "T1").locator(".remark")).to_contain_text("client disputes the price")


def test_the_viewer_sees_no_action_button(page: Page, console_server, book):
    make_user("viewer", "RiskWarningReadOnly")
    log_in(page, console_server, "viewer", "pw-viewer")
    page.goto(f"{console_server.url}/risk-warning/")

    expect(row(page, "T1")).to_be_visible()
    expect(page.get_by_test_id("batch-bar")).to_have_count(0)
    expect(page.locator('input[name="calls"]')).to_have_count(0)
    row(page, "T1").get_by_role("link", name="T1").click()
    expect(page.get_by_test_id("account-no")).to_have_text("T1")
    expect(page.get_by_role("button")).to_have_text(["English", "简体中文", "繁體中文", "Log out"])


def test_the_pages_in_chinese(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="風險預警")).to_be_visible()
    expect(page.get_by_test_id("tab-exception")).to_contain_text("異常單")
    expect(row(page, "M100001").locator(".pill")).to_have_text("強平追保")

    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="风险预警")).to_be_visible()
    row(page, "M100001").get_by_role("link", name="M100001").click()
    expect(page.get_by_role("heading", name="追收期间净资产比率走势")).to_be_visible()
    expect(page.get_by_test_id("ratio-chart")).to_be_visible()

    page.get_by_role("link", name="历史记录").click()
    expect(page.get_by_role("heading", name="历史记录")).to_be_visible()
