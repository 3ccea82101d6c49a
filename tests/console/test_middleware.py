"""Requests refused before any view reads them."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.users import make_user

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


def client_with_csrf_cookie():
    """A client whose CSRF check reads the form, as a browser's does."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "cp1252"])
def test_a_form_in_another_charset_than_utf8_is_a_400_that_names_it(charset):
    client, token = client_with_csrf_cookie()

    response = client.post(
        reverse("login"), "username=a&password=b", content_type=f"{FORM}; charset={charset}", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 400
    assert f"charset='{charset}'" in response.content.decode()


@pytest.mark.parametrize("charset", ["UTF-8", "UTF8", "utf_8"])
def test_utf8_by_any_of_its_names_is_read(charset):
    user = make_user("trader", "RiskWarningFull")
    user.set_password("pw-for-the-test")
    user.save()
    client, token = client_with_csrf_cookie()

    response = client.post(
        reverse("login"),
        "username=trader&password=pw-for-the-test",
        content_type=f"{FORM}; charset={charset}",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 302  # logged in: the form was read


def test_an_api_hears_it_in_json_and_a_get_is_left_alone():
    response = Client().post(reverse("book:api-ticks"), "a=b", content_type=f"{FORM}; charset=latin-1")
    assert response.status_code == 400
    assert "charset='latin-1'" in response.json()["error"]

    # A GET's form body is never read: its charset is nobody's concern.
    assert Client().get(reverse("login"), CONTENT_TYPE=f"{FORM}; charset=latin-1").status_code == 200


def test_a_form_without_its_csrf_token_is_refused_in_the_consoles_page_saying_what_to_do(settings):
    user = make_user("trader", "RiskWarningFull")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(reverse("liquidation:cancel"), {"orders": ["1"]}, HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="reason"' in html
    assert "重新載入" in html  # "reload the page", in the reader's language
    assert '<header class="topbar">' in html  # the console's layout, not Django's bare page


def test_a_not_found_page_says_what_was_not_found():
    client = Client()
    client.force_login(make_user("trader", "RiskWarningFull"))

    response = client.post(reverse("liquidation:cancel"), {"orders": ["abc"]})

    assert response.status_code == 404
    assert "No such order." in response.content.decode()
    assert 'data-testid="reason"' not in client.get("/no/such/page/").content.decode()


def test_the_login_form_without_its_token_gets_the_same_page():
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert "reload the page and try again" in response.content.decode()
    assert "does not have the permission" not in response.content.decode()  # not a question of rights
    assert "<h1>Form out of date</h1>" in response.content.decode()


def test_a_form_with_too_many_fields_gets_the_consoles_page_not_a_bare_one(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = Client()
    client.force_login(make_user("trader", "RiskWarningFull"))

    response = client.post(reverse("liquidation:cancel"), {f"f{n}": "1" for n in range(20)})

    assert response.status_code == 400
    assert "could not read this request" in response.content.decode()
