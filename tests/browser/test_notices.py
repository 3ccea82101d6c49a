"""Notices in a real browser: a trader previews and sends a message from a call's details and sees its
status; the viewer sees the notices but no form."""

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from risk.models import MarginCall
from tests.browser.csp import csp_violations
from tests.browser.test_console import log_in
from tests.browser.test_liquidation import confirm_next
from tests.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)


def test_a_trader_sends_a_message_from_the_details_and_sees_it_sent(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    call = MarginCall.objects.get(account__account_no="M100001")
    violations = csp_violations(page)
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    form = page.get_by_test_id("notice-form")
    form.locator('input[name="channels"][value="sms"]').uncheck()  # email only
    form.locator('textarea[name="text"]').fill("Please call the risk desk about {account}.")

    page.get_by_test_id("notice-preview-button").click()
    expect(page.get_by_test_id("notice-preview")).to_contain_text("Please call the risk desk about M100001.")
    # The client reads Traditional Chinese; an English text goes out under the English subject.
    expect(page.get_by_test_id("notice-preview")).to_contain_text("About your account M100001")
    expect(page.get_by_test_id("client-language")).to_have_text("(the client reads 繁體中文)")

    asked = confirm_next(page)
    page.get_by_test_id("send-notice").click()

    expect(page.locator(".messages")).to_contain_text("1 notice queued.")
    assert asked == ["Send this message to the client now?"]
    newest = page.get_by_test_id("call-notices").locator("tbody tr").first  # the call's trigger notice is below
    expect(newest.get_by_test_id("delivery-status")).to_have_text(["Sent"])
    sent = [email.to for email in mail.outbox if "Please call the risk desk" in email.body]  # not the trigger's
    assert sent == [["client@example.com"]]
    assert violations == []


def test_the_viewer_sees_notices_but_no_form(page: Page, console_server, book):
    make_user("viewer", "RiskWarningReadOnly")
    call = MarginCall.objects.get(account__account_no="M100001")
    log_in(page, console_server, "viewer", "pw-viewer")
    page.goto(f"{console_server.url}/calls/{call.pk}/")
    expect(page.get_by_test_id("notices-panel")).to_be_visible()
    expect(page.get_by_test_id("notice-form")).to_have_count(0)


def test_a_refused_message_comes_back_with_its_channels_as_the_trader_left_them(page: Page, console_server, book):
    make_user("trader", "RiskWarningFull")
    log_in(page, console_server, "trader", "pw-trader")
    page.goto(f"{console_server.url}/risk-warning/")
    page.locator('#call-list input[name="calls"]').first.check()
    email, sms = page.locator('[name="channels"][value="email"]'), page.locator('[name="channels"][value="sms"]')
    expect(email).to_be_checked()
    email.uncheck()
    sms.uncheck()
    page.locator('[name="text"]').fill("Please call us")
    confirm_next(page)
    page.get_by_test_id("batch-send-notice").click()

    expect(page.locator(".messages")).to_be_visible()
    expect(page.locator('[name="text"]')).to_have_value("Please call us")
    expect(page.locator('#call-list input[name="calls"]').first).to_be_checked()
    expect(email).not_to_be_checked()  # not ticked again by default, to send what was left out
    expect(sms).not_to_be_checked()
