"""Django admin in a real browser under the console's Content-Security-Policy."""

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Page, expect

from book.models import Desk, Instrument
from tests.browser.csp import csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_pages_work_with_no_csp_violation(page: Page, live_server, import_book, worked_book):
    import_book(worked_book)
    root = User.objects.create_superuser("root", password="root-pass-1")
    group = Group.objects.get(name="RiskWarningReadOnly")
    desk = Desk.objects.order_by("code").first()
    instrument = Instrument.objects.get(symbol="A.HK")
    violations = csp_violations(page)

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("root-pass-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Rules, book and users")).to_be_visible()

    for path, heading in [
        ("/admin/book/desk/", "Select desk to change"),
        (f"/admin/book/desk/{desk.pk}/change/", "Change desk"),
        (f"/admin/book/desk/{desk.pk}/permissions/", "Object permissions"),
        (f"/admin/book/desk/{desk.pk}/permissions/user-manage/{root.pk}/", "Object permissions"),
        (f"/admin/book/desk/{desk.pk}/permissions/group-manage/{group.pk}/", "Object permissions"),
        (f"/admin/book/instrument/{instrument.pk}/change/", "Change instrument"),
        ("/admin/console/auditentry/", "audit"),
        ("/admin/auth/user/add/", "Add user"),
    ]:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        expect(page.locator("#content h1, #content h2").first).to_contain_text(heading, ignore_case=True)
    # The admin's own scripts run: the change list's "select all" box ticks every row.
    page.goto(f"{live_server.url}/admin/book/desk/")
    page.locator("#action-toggle").check()
    expect(page.locator("input.action-select").first).to_be_checked()

    assert violations == []
