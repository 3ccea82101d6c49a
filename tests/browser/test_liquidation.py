"""Liquidation in a real browser: from a call's details to the filled orders and History; a batch from
Risk Warning; a cancel before the fill; the read-only view."""

import pytest
from playwright.sync_api import Page, expect

from liquidation.models import Order
from risk.models import MarginCall
from tests.browser.csp import csp_violations
from tests.browser.test_console import log_in
from tests.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def confirm_next(page: Page) -> list[str]:
    """Accept the next confirmation the page asks, and keep its question (a button that acts on money
    must ask)."""
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    return asked


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)


def test_liquidate_from_the_details_fills_and_moves_the_call_to_history(page: Page, console_server, book, exchange):
    make_user("trader", "RiskWarningFull")
    call = MarginCall.objects.get(account__account_no="M100001")
    violations = csp_violations(page)
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    expect(page.locator('input[name="quantity:A.HK"]')).to_have_value("1100")
    expect(page.get_by_test_id("projected-call-amount")).to_have_text("0.00")
    page.locator('input[name="quantity:A.HK"]').fill("100")  # the figures follow as the trader types
    expect(page.get_by_test_id("projected-call-amount")).not_to_have_text("0.00", timeout=5000)
    page.locator('input[name="quantity:A.HK"]').fill("1100")
    expect(page.get_by_test_id("projected-call-amount")).to_have_text("0.00", timeout=5000)

    asked = confirm_next(page)
    page.get_by_test_id("liquidate").click()

    expect(page.locator(".messages")).to_contain_text("2 orders placed.")
    [question] = asked  # with what the orders do, as the projection shows it
    assert question.startswith("Place these orders? Quantities are reserved at once.\n\nValue of these orders: ")
    assert question.endswith("Call amount after them: 0.00. They cover the call.")
    expect(page.get_by_test_id("order-status")).to_have_text(["Submitted", "Submitted"])
    while exchange():  # the market's turns: the page follows them without a reload
        pass
    expect(page.get_by_test_id("order-status")).to_have_text(["Filled", "Filled"], timeout=5000)
    expect(page.get_by_test_id("call-status")).to_contain_text("Liquidation", timeout=5000)
    page.goto(f"{console_server.url}/history/")
    expect(page.locator(f'tr[data-call="{call.pk}"]')).to_contain_text("Liquidation")
    assert violations == []


def test_a_cancel_before_the_fill_from_the_orders_page(page: Page, console_server, book, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the market never fills
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    call = MarginCall.objects.get(account__account_no="M100001")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("liquidate").click()
    expect(page.get_by_test_id("left-after-working")).to_have_text("0.00")

    page.goto(f"{console_server.url}/liquidation/orders/")
    expect(page.get_by_test_id("cancel-orders")).to_be_disabled()  # nothing ticked, nothing to cancel
    page.locator('input[name="orders"]').first.check()
    expect(page.get_by_test_id("cancel-orders")).to_be_enabled()
    asked = confirm_next(page)
    page.get_by_test_id("cancel-orders").click()

    expect(page.locator(".messages")).to_contain_text("1 order cancelled.")
    assert asked == ["Cancel the selected orders? Their unfilled rest is released."]
    assert sorted(Order.objects.values_list("status", flat=True)) == ["cancelled", "submitted"]


def test_a_batch_from_risk_warning(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")
    page.locator('#call-list input[name="calls"]').first.check()
    page.get_by_test_id("batch-preview-button").click()
    expect(page.get_by_test_id("batch-preview")).to_contain_text("M100001")
    asked = confirm_next(page)
    page.get_by_test_id("batch-liquidate").click()

    expect(page.get_by_test_id("batch-progress")).to_have_attribute("data-status", "done", timeout=10000)
    assert asked == ["Selected calls: 1. Liquidate them by their plans? Orders are placed at once."]
    expect(page.get_by_test_id("batch-items")).to_contain_text("placed")
    assert set(Order.objects.values_list("source", flat=True)) == {"batch"}


def test_a_refused_batch_comes_back_with_its_rows_ticked_and_its_bar_as_typed(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")
    boxes = page.locator('#call-list input[name="calls"]')
    boxes.first.check()
    page.locator('#batch [name="only"], [form=batch][name="only"]').fill("zzz.hk")
    confirm_next(page)
    page.get_by_test_id("batch-liquidate").click()

    expect(page.locator(".messages")).to_contain_text("No such stock: zzz.hk")
    expect(boxes.first).to_be_checked()
    expect(page.get_by_test_id("selected-count")).to_contain_text("1")
    expect(page.locator('#batch [name="only"], [form=batch][name="only"]')).to_have_value("zzz.hk")
    page.reload()  # once: a later visit starts clean
    expect(boxes.first).not_to_be_checked()


def test_the_viewer_sees_the_plan_and_no_button(page: Page, console_server, book):
    make_user("viewer", "RiskWarningReadOnly")
    log_in(page, console_server, "viewer", "pw-viewer")
    call = MarginCall.objects.get(account__account_no="M100001")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    expect(page.get_by_test_id("plan")).to_be_visible()
    expect(page.get_by_test_id("liquidate")).to_have_count(0)
    page.goto(f"{console_server.url}/risk-warning/")
    expect(page.get_by_test_id("batch-liquidate")).to_have_count(0)


def test_the_orders_page_and_the_details_follow_the_market_without_a_reload(page: Page, console_server, book, settings):
    from datetime import UTC, datetime
    from decimal import Decimal

    from liquidation import services

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # fills come from the test
    trader = make_user("trader", "RiskWarningFull")
    call = MarginCall.objects.select_related("account").get(account__account_no="M100001")
    [order] = services.place(user=trader, account=call.account, call=call, wanted=[services.Wanted("A.HK", 500)])
    violations = csp_violations(page)
    log_in(page, console_server, "trader", "pw-trader")

    page.goto(f"{console_server.url}/liquidation/orders/")
    row = page.locator(f'#order-list tr[data-order="{order.pk}"]')
    expect(row.get_by_test_id("order-status")).to_have_text("Submitted")
    fill_time = datetime(2026, 12, 23, 2, 30, tzinfo=UTC)
    services.record_fill(order.pk, 200, Decimal("300"), fill_time, "part-1")
    expect(row.get_by_test_id("order-status")).to_have_text("Partially filled", timeout=5000)
    expect(row).to_have_class("updated")

    page.goto(f"{console_server.url}/calls/{call.pk}/")
    expect(page.locator(f'#call-orders tr[data-order="{order.pk}"]').get_by_test_id("order-status")).to_have_text(
        "Partially filled"
    )
    amount = page.get_by_test_id("amount-now").locator(".value")
    before = amount.inner_text()
    services.record_fill(order.pk, 300, Decimal("300"), fill_time, "part-2")
    expect(page.locator(f'#call-orders tr[data-order="{order.pk}"]').get_by_test_id("order-status")).to_have_text(
        "Filled", timeout=5000
    )
    # The call's amount follows the fill too, not only its orders.
    call.refresh_from_db()
    assert f"{call.call_amount:,.2f}" != before
    expect(amount).to_have_text(f"{call.call_amount:,.2f}", timeout=5000)
    assert violations == []


def test_a_cancel_from_the_details(page: Page, console_server, book, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the market never fills
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    call = MarginCall.objects.get(account__account_no="M100001")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    confirm_next(page)
    page.get_by_test_id("liquidate").click()
    expect(page.get_by_test_id("order-status")).to_have_text(["Submitted", "Submitted"])

    page.locator('#call-orders input[name="orders"]').first.check()
    asked = confirm_next(page)
    page.get_by_test_id("cancel-orders").click()

    expect(page.locator(".messages")).to_contain_text("1 order cancelled.")
    assert asked == ["Cancel the selected orders? Their unfilled rest is released."]
    assert page.url.endswith(f"/calls/{call.pk}/")  # back on the details
    expect(page.get_by_test_id("order-status")).to_have_text(["Cancelled", "Submitted"])
