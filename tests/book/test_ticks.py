"""POST /api/ticks: token, item-by-item outcomes, bad bodies, and the recompute it causes."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from book.models import ApiToken, Instrument
from risk.models import MarginCall
from tests.books import one_stock_book

pytestmark = pytest.mark.django_db
URL = reverse("book:api-ticks")


def post(body, token=None, *, raw=False):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if raw else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


def test_only_the_hash_of_a_token_is_stored(token):
    stored = ApiToken.objects.get()
    assert token not in (stored.digest, stored.prefix)
    assert stored.digest == ApiToken.hash(token)


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc"])
def test_a_request_without_a_valid_token_is_401(token, header):
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().post(URL, data="[]", content_type="application/json", **headers)
    assert response.status_code == 401


def test_a_tokens_last_use_is_kept_to_the_minute(token, time_machine):
    time_machine.move_to("2026-03-02T02:00:00+00:00", tick=False)
    post([], token)
    assert ApiToken.objects.get().last_used_at.isoformat() == "2026-03-02T02:00:00+00:00"
    time_machine.move_to("2026-03-02T02:00:59+00:00", tick=False)
    post([], token)  # a feed's next request within the minute: nothing written
    assert ApiToken.objects.get().last_used_at.isoformat() == "2026-03-02T02:00:00+00:00"
    time_machine.move_to("2026-03-02T02:01:01+00:00", tick=False)
    post([], token)
    assert ApiToken.objects.get().last_used_at.isoformat() == "2026-03-02T02:01:01+00:00"
    time_machine.move_to("2026-03-02T01:00:00+00:00", tick=False)
    post([], token)  # a server whose clock is behind another's never moves the last use back
    assert ApiToken.objects.get().last_used_at.isoformat() == "2026-03-02T02:01:01+00:00"


def test_a_token_posts_only_to_the_apis_it_may(token):
    ApiToken.objects.update(scopes="lending")
    refused = post([], token)
    assert refused.status_code == 403
    assert refused.json()["error"] == "the token 'feed' may not post ticks: it may post lending"
    ApiToken.objects.update(scopes="lending,ticks")
    assert post([], token).status_code == 200


def test_a_deactivated_token_is_refused(token):
    ApiToken.objects.update(active=False)
    assert post([], token).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"symbol": "S.HK"}', 'the body must be a JSON list of ticks, got {"symbol": "S.HK"}'),
        ("42", "the body must be a JSON list of ticks, got 42"),
        ("null", "the body must be a JSON list of ticks, got null"),
        ("", "not valid JSON"),
        (b"\xff\xfe[]", "not UTF-8 text: invalid start byte at byte 0"),
        ("[]".encode("utf-16"), "not UTF-8 text"),
    ],
)
def test_a_body_that_is_not_a_list_is_400_with_a_reason(token, body, message):
    response = post(body, token, raw=True)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_utf8_byte_order_mark_is_skipped(token):
    assert post("\ufeff[]".encode(), token, raw=True).json() == {"applied": 0, "refused": 0, "results": []}


@pytest.mark.parametrize(
    ("tick", "reason"),
    [
        ([], "a tick must be an object with symbol, price and time, got []"),
        (None, "a tick must be an object with symbol, price and time, got null"),
        (
            {"symbol": "S.HK", "price": "-0", "time": "2026-12-23T11:00:00+08:00"},
            'price must be a positive number, got "-0"',
        ),
        ({"symbol": "S.HK", "price": 0, "time": "2026-12-23T11:00:00+08:00"}, "price must be a positive number, got 0"),
        (
            {"symbol": "S.HK", "price": "99999999999999.999999", "time": "2026-12-23T11:00:00+08:00"},
            'price must be at most 10000000000000, got "99999999999999.999999"',
        ),
    ],
)
def test_a_tick_that_is_refused_says_what_it_got_in_jsons_words(import_book, token, tick, reason):
    import_book(one_stock_book())

    [result] = post([tick], token).json()["results"]

    assert result["reason"] == reason


def test_each_tick_is_applied_or_refused_with_its_reason(import_book, token, django_capture_on_commit_callbacks):
    import_book(one_stock_book())
    body = [
        {"symbol": "S.HK", "price": "120", "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "NOPE", "price": "1", "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "S.HK", "price": "-5", "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "S.HK", "price": "abc", "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "S.HK", "price": 0, "time": "2026-12-23T11:00:00+08:00"},
        {"symbol": "S.HK", "price": "101", "time": "yesterday"},
        {"symbol": "S.HK", "price": "101", "time": "2026-12-23T09:00:00+08:00"},
        {"symbol": "S.HK", "price": "101"},
        "S.HK",
        {"symbol": "S.HK", "price": "101", "time": "2026-12-23T11:00:00+08:00", "volume": 3},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(body, token)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["applied"], answer["refused"]) == (1, 9)
    statuses = [(r["index"], r["status"], r.get("reason", "")) for r in answer["results"]]
    assert statuses[0] == (0, "applied", "")
    reasons = [reason for _, _, reason in statuses[1:]]
    assert "unknown symbol 'NOPE'" in reasons[0]
    assert "positive" in reasons[1]
    assert "must be a number" in reasons[2]
    assert "positive" in reasons[3]
    assert "ISO 8601" in reasons[4]
    assert "older than the stored price" in reasons[5]
    assert "missing time" in reasons[6]
    assert "must be an object" in reasons[7]
    assert "unknown key 'volume'" in reasons[8]
    # The applied tick was written and its holders recomputed: the call closed by the market.
    assert Instrument.objects.get(symbol="S.HK").price == 120
    call = MarginCall.objects.get()
    assert (call.status, call.close_cause) == ("closed", "market")


def test_a_redelivered_tick_changes_nothing(import_book, token, django_capture_on_commit_callbacks):
    import_book(one_stock_book())
    tick = [{"symbol": "S.HK", "price": "90", "time": "2026-12-23T11:00:00+08:00"}]
    with django_capture_on_commit_callbacks(execute=True):
        post(tick, token)
    state = list(MarginCall.objects.values()), MarginCall.objects.get().snapshots.count()

    with django_capture_on_commit_callbacks(execute=True):
        assert post(tick, token).json()["applied"] == 1

    assert (list(MarginCall.objects.values()), MarginCall.objects.get().snapshots.count()) == state


def test_get_is_not_allowed(token):
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405


@pytest.mark.parametrize("with_token", [True, False])
def test_api_answers_are_not_cached(token, with_token):
    response = post([], token if with_token else None)

    assert response.status_code == (200 if with_token else 401)
    assert {"no-store", "private"} <= {part.strip() for part in response["Cache-Control"].split(",")}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000, "the body is not valid JSON: nested too deeply"),
        ("[1e99999999999999999999]", "the body is not valid JSON: the number"),
        (b"[\xff]", "the body is not UTF-8 text"),
    ],
)
def test_a_body_python_cannot_read_is_400_with_a_reason(token, body, message):
    response = post(body, token, raw=True)

    assert response.status_code == 400
    assert message in response.json()["error"]


GOOD = {"symbol": "S.HK", "price": "120", "time": "2026-12-23T11:00:00+08:00"}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"symbol": "S.HK\u0000"}, "symbol contains a NUL character (U+0000)"),
        ({"symbol": "\ud800"}, "symbol contains a lone surrogate (U+D800)"),
        ({"symbol": "S.\u001bHK"}, "symbol contains a control character (U+001B)"),
        ({"symbol": "S" * 33}, "symbol is longer than 32 characters"),
        ({"symbol": ["S.HK"]}, "symbol must be a string"),
        ({"price": "١٢٠"}, "price must be a number"),
        ({"price": "1e999999999"}, "price is too large"),
        ({"price": "9" * 5000}, "price is too large"),
        ({"price": "NaN"}, "price must be a number"),
        ({"time": "9999-99-99T99:99"}, "time must be an ISO 8601 date and time"),
        ({"time": "0000-00-00"}, "time must be an ISO 8601 date and time"),
        ({"time": "0001-01-01T00:00+08:00"}, "time is out of range"),
        ({"time": "9999-12-31T23:59:59-10:00"}, "time is out of range"),
        ({"time": "2026-12-23T19:00:00+16:00"}, "time has an offset from UTC no place keeps"),
        ({"time": "2026-12-22T19:00:00-16:00"}, "time has an offset from UTC no place keeps"),
        ({"time": "2026-12-23T11:00:00+23:59"}, "time has an offset from UTC no place keeps"),
        ({"time": "2026-12-23T11:00:00+08:00:30"}, "time has an offset from UTC no place keeps"),
        ({"time": "2026-12-23T11:00:00+08:00:00.5"}, "time has an offset from UTC no place keeps"),
        ({"time": "2026-12-23T11:00:00\u0000"}, "time must be an ISO 8601 date and time"),
    ],
)
def test_one_bad_tick_is_refused_alone_and_the_rest_applied(import_book, token, bad, reason):
    import_book(one_stock_book())

    response = post([GOOD | bad, GOOD], token)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["applied"], answer["refused"]) == (1, 1)
    refused, applied = answer["results"]
    assert (refused["index"], refused["status"]) == (0, "refused")
    assert refused["reason"].startswith(reason), refused["reason"]
    assert applied == {"index": 1, "symbol": "S.HK", "status": "applied"}
    assert Instrument.objects.get(symbol="S.HK").price == 120


def test_nanoseconds_from_a_feed_are_read_to_the_microsecond(import_book, token):
    import_book(one_stock_book())

    answer = post([GOOD | {"time": "2026-12-23T11:00:30.123456789+08:00"}], token).json()

    assert answer["applied"] == 1, answer
    assert Instrument.objects.get(symbol="S.HK").price_time.isoformat() == "2026-12-23T03:00:30.123456+00:00"


def test_a_number_too_long_for_int_is_refused_alone(import_book, token):
    import_book(one_stock_book())
    body = '[{"symbol": "S.HK", "price": ' + "9" * 5000 + ', "time": "2026-12-23T11:00:00+08:00"}]'

    answer = post(body, token, raw=True).json()

    assert answer["results"][0]["reason"].startswith("price is too large")


def test_a_refused_tick_repeats_only_a_printable_symbol(token):
    answer = post([{"symbol": "\ud800\u0000" + "S" * 100}, {"symbol": {"deep": [[[1]]]}}], token).json()

    first, second = answer["results"]
    assert first["symbol"] == "\\ud800\\x00" + "S" * 62
    assert second["symbol"] is None


def test_a_body_over_the_upload_limit_is_a_json_413(token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post([{"symbol": "700.HK", "price": "1"}] * 100, token)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "the body is larger than 1,000 bytes: send fewer ticks per request"}


def test_a_symbol_of_a_lone_bidirectional_override_is_named_not_called_empty(token):
    time = "2026-12-23T10:00:00+08:00"
    answer = post(
        [{"symbol": "\u202e", "price": "1", "time": time}, {"symbol": "\u200b", "price": "1", "time": time}], token
    ).json()

    first, second = answer["results"]
    assert "bidirectional override (U+202E)" in first["reason"]
    assert "must not be empty" in second["reason"]  # an invisible one alone is nothing said


def test_a_control_character_at_a_symbols_end_is_named_and_spaces_there_are_taken_off(import_book, token):
    import_book(one_stock_book())
    time = "2026-12-23T11:00:00+08:00"
    answer = post(
        [
            {"symbol": "\x1f", "price": "120", "time": time},
            {"symbol": "S.HK\x85", "price": "120", "time": time},
            {"symbol": " S.HK\r\n", "price": "120", "time": time},
        ],
        token,
    ).json()

    alone, at_the_end, spaced = answer["results"]
    assert "control character (U+001F)" in alone["reason"]  # not "must not be empty"
    assert "control character (U+0085)" in at_the_end["reason"]
    assert spaced == {"index": 2, "symbol": "S.HK", "status": "applied"}
