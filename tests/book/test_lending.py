"""What the prime broker can lend: ``POST /api/lending`` and the book file's ``lending``; and the
instruments' ``shortable`` flag."""

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from book.models import ApiToken, Instrument, LendingAvailability
from tests.books import one_stock_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(import_book):
    book = one_stock_book()
    book["instruments"].append(
        {"symbol": "OPT", "kind": "option", "lot_size": 1, "price": "1", "underlying": "S.HK", "option_type": "call",
         "strike": "100", "expiry": "2027-03-30"}
    )  # fmt: skip
    import_book(book)
    api_token = ApiToken(name="prime broker")
    secret = api_token.issue()
    api_token.save()
    return secret


def post(body, token):
    return Client().post(
        reverse("book:api-lending"),
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_each_report_is_applied_or_refused_alone(token):
    response = post(
        [
            {"symbol": "S.HK", "lendable": 5000, "time": "2026-12-23T11:00:00+08:00"},
            {"symbol": "NOPE", "lendable": 1, "time": "2026-12-23T11:00:00+08:00"},
            {"symbol": "S.HK", "lendable": -1, "time": "2026-12-23T11:00:00+08:00"},
            {"symbol": "OPT", "lendable": 1, "time": "2026-12-23T11:00:00+08:00"},
            {"symbol": "S.HK", "lendable": 1, "time": "2027-06-01T00:00:00+08:00"},
            {"symbol": "S.HK", "lendable": 1},
            [],
        ],
        token,
    )

    assert response.status_code == 200
    answer = response.json()
    assert (answer["applied"], answer["refused"]) == (1, 6)
    reasons = [result.get("reason", "") for result in answer["results"]]
    assert reasons[0] == ""
    assert "unknown symbol 'NOPE'" in reasons[1]
    assert "lendable" in reasons[2]
    assert "only a stock" in reasons[3]
    assert "ahead of the server's clock" in reasons[4]
    assert "missing time" in reasons[5]
    assert "must be an object" in reasons[6]
    row = LendingAvailability.objects.get(instrument__symbol="S.HK")
    assert (row.lendable, row.as_of) == (5000, dt.datetime.fromisoformat("2026-12-23T11:00:00+08:00"))


def test_a_refused_symbol_is_echoed_printable(token):
    body = [
        {"symbol": "S.HK\u0000", "lendable": 1, "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "\ud800", "lendable": 1, "time": "2026-12-23T11:00:00+08:00"},
    ]

    answer = post(json.dumps(body), token).json()

    assert [result["symbol"] for result in answer["results"]] == ["S.HK\\x00", "\\ud800"]
    assert answer["refused"] == 2


def test_an_older_report_never_moves_the_lendable_back(token):
    post([{"symbol": "S.HK", "lendable": 5000, "time": "2026-12-23T11:00:00+08:00"}], token)
    answer = post([{"symbol": "S.HK", "lendable": 9, "time": "2026-12-23T10:59:00+08:00"}], token).json()

    assert "older than the stored report" in answer["results"][0]["reason"]
    assert LendingAvailability.objects.get().lendable == 5000


def test_a_malformed_body_is_a_400_and_no_token_a_401(token):
    assert post("not json", token).status_code == 400
    assert post({"symbol": "S.HK"}, token).status_code == 400
    assert post([], "wrong").status_code == 401


def test_the_book_says_which_stock_may_not_be_sold_short(import_book):
    book = one_stock_book()
    book["instruments"][0]["shortable"] = False
    import_book(book)
    assert Instrument.objects.get(symbol="S.HK").shortable is False

    from book.book_format import BookInvalid

    book["instruments"][0]["shortable"] = "no"
    with pytest.raises(BookInvalid, match=re.escape('instruments[0].shortable: must be true or false, got "no"')):
        import_book(book)
