"""Stock recovery in a real browser: a trader buys back a short call from the covered-call details and
sees the order on Liquidation Orders; the viewer sees the pages without buttons."""

import pytest
from playwright.sync_api import Page, expect

from liquidation.models import Order
from tests.browser.csp import csp_violations
from tests.browser.test_console import log_in
from tests.browser.test_liquidation import confirm_next
from tests.recovery.conftest import RECOVERY_BOOK
from tests.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book(import_book):
    import_book(RECOVERY_BOOK)


def test_a_trader_buys_back_a_short_call_from_the_covered_call_details(page: Page, console_server, book, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the order stays working to be seen
    make_user("trader", "RiskWarningFull")
    violations = csp_violations(page)
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/recovery/covered-calls/")
    row = page.locator('tr[data-account="A1"]')
    expect(row.get_by_test_id("shortfall")).to_have_text("200")
    row.get_by_role("link", name="A1").click()

    option = page.locator('tr[data-symbol="TCH-C400"]')
    expect(option.locator('input[name="quantity"]')).to_have_value("2")  # 2 contracts of 100 cover 200
    asked = confirm_next(page)
    option.get_by_test_id("buy-back").click()

    expect(page.locator(".messages")).to_contain_text("1 order placed.")
    assert asked == ["Buy back this quantity now?"]
    order = Order.objects.get()
    assert (order.instrument.symbol, order.side, order.quantity) == ("TCH-C400", "buy", 2)
    page.goto(f"{console_server.url}/liquidation/orders/")
    expect(page.locator(f'tr[data-order="{order.pk}"]')).to_contain_text("TCH-C400")
    assert violations == []


def test_the_viewer_sees_recovery_without_buttons(page: Page, console_server, book):
    make_user("viewer", "RiskWarningReadOnly")
    log_in(page, console_server, "viewer", "pw-viewer")
    page.goto(f"{console_server.url}/recovery/covered-calls/")
    expect(page.locator('tr[data-account="A1"]')).to_be_visible()
    page.locator('tr[data-account="A1"]').get_by_role("link", name="A1").click()
    expect(page.get_by_test_id("case-positions")).to_be_visible()
    expect(page.get_by_test_id("buy-back")).to_have_count(0)
