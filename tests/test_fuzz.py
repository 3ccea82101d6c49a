"""No input gives a 500: property tests that throw nasty values at every way in.

NUL bytes, lone surrogates, control characters, non-ASCII digits ('²', '٣', '１'), 5,000-digit numbers,
huge exponents, deep nesting, odd Unicode and impossible dates go at every form field, every query
parameter of the pages, every action, the ticks API and every field of a book file. Whatever comes in:
never a 500, a message that names what is wrong and prints, and nothing half-written.

Book and tick times that can be stored but lie far in the past or future (year 1, year 9999) are left
out: refusing those is a time-window policy, not input hygiene. Times that cannot be stored at all are
in (0001-01-01T00:00+08:00 has no UTC time).
"""

import copy
import io
import itertools
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, quote_from_bytes

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from book.book_format import FieldError, parse_datetime, printable
from book.models import Account, CashBalance, Desk, Instrument
from console.models import AuditEntry
from console.text import forbidden_character
from liquidation.forms import OrderFilterForm
from notices.forms import DeliveryFilterForm
from recovery.views import CaseFilterForm, ShortFilterForm
from risk import forms
from risk.models import MarginCall
from tests.book.test_book_import import book_state

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    # One book per test, shared by its examples: each example takes its own before-and-after.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- Nasty values -------------------------------------------------------------------------------

LONG_DIGITS = "9" * 5000
IMPOSSIBLE_DATES = [
    "0000-00-00",
    "9999-99-99",
    "9999-99-99T99:99",
    "2026-02-30",
    "2026-12-23T24:61",
    "2026-12-23T11:00:00+25:00",
    "0001-01-01T00:00+08:00",  # exists, but has no UTC time
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:00Z",  # has no Hong Kong time
    "2026-12-23T11:00:00\x00",
    "２０２６-12-23",
    "٢٠٢٦-١٢-٢٣",
    "yesterday",
]
NASTY_STRINGS = [
    "\x00",
    "A\x00B",
    "%00",
    "\ud800",
    "\udfff",
    "S\udc00.HK",
    "\x07",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\u200b",
    "²",
    "٣",
    "１",
    "١٢٣",
    "٣.٥",
    "𝟙",
    LONG_DIGITS,
    "-" + LONG_DIGITS,
    "0." + LONG_DIGITS,
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "1e99999999999999999999",
    "NaN",
    "-Infinity",
    "sNaN",
    "1_000",
    "0x1F",
    " 1 ",
    "",
    "   ",
    "\t\r\n",
    "a" * 20_000,
    "'; DROP TABLE risk_account; --",
    "<script>alert(1)</script>",
    "Ω≈ç√∫",
    "陳大文",
    "🙂",
    "\U0010ffff",
    *IMPOSSIBLE_DATES,
]
# The characters that have broken inputs before, mixed into any Unicode (surrogates included).
TROUBLE = "\x00\x07\x1b\x7f\x85\u2028\u202e\ufeff\u200b\ud800\udbff\udc00\udfff²٣１𝟙\t\r\n "
characters = st.one_of(st.characters(exclude_categories=()), st.sampled_from(TROUBLE))
nasty_text = st.one_of(st.sampled_from(NASTY_STRINGS), st.text(characters, max_size=30))


class Raw(str):
    """JSON text put into a document as it is: numbers Python would not write, nesting it would not."""


def to_json(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {to_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


RAW_NUMBERS = [
    Raw(LONG_DIGITS),
    Raw("-" + LONG_DIGITS),
    Raw("1e999999999"),
    Raw("-1e999999999"),
    Raw("1e-999999999"),
    Raw("1E400"),
    Raw("0." + LONG_DIGITS),
    Raw("NaN"),
    Raw("-Infinity"),
    Raw("-0"),
]
deep_nesting = st.sampled_from([900, 1200, 1500, 3000, 100_000]).map(lambda depth: Raw("[" * depth + "]" * depth))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda number: Raw(str(number))),
    st.sampled_from(RAW_NUMBERS),
    nasty_text,
)
json_values = st.one_of(
    json_scalars,
    deep_nesting,
    st.recursive(
        json_scalars,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text, children, max_size=3),
        max_leaves=6,
    ),
)

# What a browser or a careless script can send: any text as UTF-8 (a lone surrogate as its three
# bytes), or bytes that are not UTF-8 at all.
http_values = st.one_of(nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=20))


def form_encoded(pairs) -> str:
    return "&".join(f"{quote(name)}={quote_from_bytes(value)}" for name, value in pairs)


def assert_prints(text: str) -> None:
    assert text, "an empty message"
    assert printable(text) == text, text


# --- The console: a book with open calls on two desks, a trader seeing them all -------------------


@pytest.fixture
def new_client(trader):
    """A new client of the trader's (so no message is left from an earlier example); a server error
    comes back as a 500 response to assert on, not as an exception."""

    def new():
        client = Client(raise_request_exception=False)
        client.force_login(trader)
        return client

    return new


@pytest.fixture
def call(book):
    return MarginCall.objects.get(account__account_no="M100001")


def call_state():
    return list(MarginCall.objects.order_by("pk").values()), [
        (call.pk, call.remarks.count(), call.deadline_changes.count()) for call in MarginCall.objects.order_by("pk")
    ]


LIST_PARAMETERS = [*forms.CallFilterForm.base_fields, "changed", "format"]
GET_PAGES = {
    "risk:warning": LIST_PARAMETERS,
    "risk:intraday": LIST_PARAMETERS,
    "risk:history": list(forms.HistoryFilterForm.base_fields),
    "risk:home": list(forms.AccountSearchForm.base_fields),
    "liquidation:orders": [*OrderFilterForm.base_fields, "changed"],
    "notices:list": list(DeliveryFilterForm.base_fields),
    "recovery:covered-calls": list(CaseFilterForm.base_fields),
    "recovery:short-stock": list(ShortFilterForm.base_fields),
}


@st.composite
def page_queries(draw):
    page = draw(st.sampled_from(sorted(GET_PAGES)))
    names = GET_PAGES[page]
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), http_values), min_size=1, max_size=4))
    if page != "risk:home" and draw(st.booleans()):
        pairs.append(("format", b"csv"))
    return page, pairs


@FUZZ
@given(query=page_queries(), htmx=st.booleans())
def test_no_query_parameter_breaks_a_page(book, new_client, query, htmx):
    page, pairs = query
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = new_client().get(f"{reverse(page)}?{form_encoded(pairs)}", **headers)

    if response.status_code == 400:  # a CSV asked for with filters that are not valid: said, not exported
        assert ("format", b"csv") in pairs or ("format", "csv") in pairs, pairs
        assert response.content.decode().startswith("Not exported: these filters are not valid: ")
        return
    assert response.status_code in (200, 302), response.status_code  # 302: the search found one account
    if response.status_code == 302 or not response["Content-Type"].startswith("text/html"):
        return
    form = response.context["form"]
    assert set(form.errors) <= {name for name, _ in pairs}  # what is named wrong was sent
    if htmx:
        return  # only the rows: the filters, with their errors, are on the page around them
    html = response.content.decode()
    for errors in form.errors.values():
        for error in errors:
            assert escape(error) in html


@FUZZ
@given(account_no=nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")) | st.binary(min_size=1))
def test_no_account_path_breaks_the_account_page(book, new_client, account_no):
    response = new_client().get(f"/accounts/{quote_from_bytes(account_no, safe='')}/")

    assert response.status_code in (200, 404)


@settings(FUZZ, max_examples=20)
@given(
    kind=st.one_of(nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(min_size=1)).filter(
        lambda kind: kind not in (b"margin", b"intraday")  # the two that stream, for minutes
    ),
    query=st.lists(st.tuples(st.sampled_from(["changed", "kind", "since"]), http_values), max_size=2),
)
def test_no_kind_breaks_the_event_stream(book, new_client, kind, query):
    response = new_client().get(f"/calls/events/{quote_from_bytes(kind, safe='')}/?{form_encoded(query)}")

    assert response.status_code == 404


@settings(FUZZ, max_examples=30)
@given(
    call_id=st.one_of(nasty_text, st.text(alphabet="0123456789", min_size=19, max_size=40)).filter(
        lambda text: not re.fullmatch(r"[0-9]{1,18}", text)  # an id streams, for minutes
    )
)
def test_no_call_breaks_the_orders_stream(book, new_client, call_id):
    """A call that is not an id is refused before a stream opens."""
    query = form_encoded([("call", call_id.encode("utf-8", "surrogatepass"))])
    response = new_client().get(f"{reverse('liquidation:order-events')}?{query}")

    assert response.status_code == 404


@FUZZ
@given(query=st.lists(st.tuples(st.sampled_from(["changed", "next", "since"]), http_values), max_size=3))
def test_no_query_breaks_a_calls_live_orders(call, new_client, query):
    response = new_client().get(
        f"{reverse('liquidation:call-orders', args=[call.pk])}?{form_encoded(query)}", HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="call-orders"' in html


CALL_ACTIONS = {
    "risk:call-remark": {"text": b"called the client"},
    "risk:call-deadline": {"deadline": b"2027-01-05T16:00", "reason": b"agreed", "shown": b""},
    "risk:call-exception": {"action": b"mark", "reason": b"disputed"},
    "risk:call-end": {"reason": b"paid by cheque", "cancel_orders": b"on"},
}


@st.composite
def call_actions(draw):
    action = draw(st.sampled_from(sorted(CALL_ACTIONS)))
    data = dict(CALL_ACTIONS[action])
    for name in draw(st.lists(st.sampled_from(sorted(data)), min_size=1, max_size=2, unique=True)):
        data[name] = draw(http_values)
    return action, data


def posted(response):
    """The messages the action left, by level."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


@FUZZ
@given(action=call_actions())
def test_no_value_breaks_an_action_on_a_call_and_a_refusal_changes_nothing(call, new_client, action):
    name, data = action
    before, audited = call_state(), AuditEntry.objects.count()

    response = new_client().post(
        reverse(name, args=[call.pk]), form_encoded(data.items()), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 302, response.status_code
    messages = posted(response)
    errors = [text for level, text in messages if level == "error"]
    if errors:
        for text in errors:
            assert_prints(text)
        assert call_state() == before
        entry = AuditEntry.objects.latest("pk")
        assert entry.outcome.startswith("refused")
        assert "\x00" not in json.dumps(entry.detail)
    else:
        assert [level for level, _ in messages] == ["success"]
        assert AuditEntry.objects.count() > audited
        call.refresh_from_db()
        assert forbidden_character(call.remark, free_text=True) is None
        assert forbidden_character(call.exception_reason, free_text=True) is None
        assert forbidden_character(call.close_reason, free_text=True) is None
        if not call.is_open:  # ended: open again for the next example (the database allows this here)
            MarginCall.objects.filter(pk=call.pk).update(
                status="open", closed_at=None, close_cause="", close_reason="", updated_at=call.updated_at
            )


@FUZZ
@given(
    ids=st.lists(st.one_of(http_values, st.sampled_from([b"CALL", b"OTHER"])), min_size=0, max_size=3),
    action=st.one_of(st.sampled_from([b"mark", b"unmark"]), http_values),
    reason=st.one_of(st.just(b"disputed"), http_values),
    next_url=st.one_of(st.just(b"/risk-warning/"), http_values),
)
def test_no_value_breaks_the_batch_exception_and_a_refusal_changes_nothing(
    call, new_client, ids, action, reason, next_url
):
    other = MarginCall.objects.get(account__account_no="T2")
    known = {b"CALL": str(call.pk).encode(), b"OTHER": str(other.pk).encode()}
    pairs = [("calls", known.get(value, value)) for value in ids]
    pairs += [("action", action), ("reason", reason), ("next", next_url)]
    before = call_state()

    response = new_client().post(
        reverse("risk:exception-batch"), form_encoded(pairs), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code in (302, 404), response.status_code  # 404: a call that is not there
    errors = [text for level, text in posted(response) if level == "error"]
    for text in errors:
        assert_prints(text)
    if errors or response.status_code == 404:
        assert call_state() == before
        assert AuditEntry.objects.latest("pk").outcome.startswith("refused")
    for reason_stored in MarginCall.objects.values_list("exception_reason", flat=True):
        assert forbidden_character(reason_stored, free_text=True) is None


@FUZZ
@given(
    symbols=st.lists(st.one_of(st.sampled_from([b"A.HK", b"B.HK", b"C.HK"]), http_values), max_size=3),
    quantity=st.one_of(st.sampled_from([b"100", b"1100", b"0", b"1e3", b"\xef\xbc\x91"]), http_values),
    price=st.one_of(st.sampled_from([b"", b"372.40", b"NaN", b"1e99", b"380.1"]), http_values),
    key=st.one_of(st.just(b"form-key-123456"), http_values),
)
def test_no_value_breaks_liquidating_from_the_details(call, new_client, symbols, quantity, price, key):
    from liquidation.models import Order

    pairs = [("symbol", symbol) for symbol in symbols]
    for symbol in symbols:
        pairs += [(b"quantity:" + symbol, quantity), (b"price:" + symbol, price)]
    pairs += [("key", key)]

    response = new_client().post(
        reverse("liquidation:call-liquidate", args=[call.pk]),
        form_encoded(pairs),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 302, response.status_code
    for level, text in posted(response):
        assert_prints(text)
        if level == "error":
            assert not Order.objects.exists()
    Order.objects.all().delete()


@FUZZ
@given(
    symbols=st.lists(st.one_of(st.sampled_from([b"A.HK", b"B.HK", b"C.HK"]), http_values), max_size=3),
    quantity=st.one_of(st.sampled_from([b"100", b"1100", b"0", b"150", b"\xef\xbc\x91"]), http_values),
    price=st.one_of(st.sampled_from([b"", b"372.40", b"NaN", b"1e99", b"380.1", b"-5", b"372.41"]), http_values),
)
def test_no_value_breaks_the_liquidation_forms_live_preview(call, new_client, symbols, quantity, price):
    pairs = [("symbol", symbol) for symbol in symbols]
    for symbol in symbols:
        pairs += [(b"quantity:" + symbol, quantity), (b"price:" + symbol, price)]

    response = new_client().get(f"{reverse('liquidation:preview', args=[call.pk])}?{form_encoded(pairs)}")

    assert response.status_code == 200, response.status_code
    for problem in response.context["problems"]:
        assert_prints(str(problem))


@FUZZ
@given(
    ids=st.lists(st.one_of(st.just(b"CALL"), http_values), max_size=3),
    action=st.one_of(st.sampled_from([b"liquidate", b"auto", b"auto_deadline", b"auto_clear"]), http_values),
    only=st.lists(st.one_of(st.just(b""), st.just(b"A.HK B.HK"), http_values), max_size=3),  # typed and ticked
    at=st.one_of(st.just(b"2026-12-23T15:00"), st.just(b"9999-12-31T23:59"), http_values),
    key=st.one_of(st.just(b"batch-key-123456"), http_values),
)
def test_no_value_breaks_the_batch_liquidation(call, new_client, ids, action, only, at, key):
    from liquidation.models import Order

    pairs = [("calls", str(call.pk).encode() if value == b"CALL" else value) for value in ids]
    pairs += [("action", action), *(("only", value) for value in only), ("at", at), ("key", key)]

    response = new_client().post(
        reverse("liquidation:batch"), form_encoded(pairs), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code in (302, 404), response.status_code
    for _level, text in posted(response):
        assert_prints(text)
    Order.objects.all().delete()


@FUZZ
@given(
    ids=st.lists(st.one_of(st.just(b"CALL"), http_values), max_size=3),
    only=st.lists(st.one_of(st.just(b"A.HK"), http_values), max_size=3),
)
def test_no_value_breaks_the_batch_preview(call, new_client, ids, only):
    pairs = [("calls", str(call.pk).encode() if value == b"CALL" else value) for value in ids]
    pairs += [("only", value) for value in only]

    response = new_client().get(f"{reverse('liquidation:batch-preview')}?{form_encoded(pairs)}")

    assert response.status_code == 200, response.status_code
    assert 'data-testid="batch-preview"' in response.content.decode()


@FUZZ
@given(ids=st.lists(st.one_of(http_values, st.just(b"ORDER")), max_size=3), next_url=http_values)
def test_no_value_breaks_cancelling_orders(call, new_client, ids, next_url):
    from liquidation.models import Order

    order = Order.objects.create(
        account=call.account, call=call, instrument_id=call.account.positions.first().instrument_id,
        side="sell", quantity=100, limit_price=372,
    )  # fmt: skip
    pairs = [("orders", str(order.pk).encode() if value == b"ORDER" else value) for value in ids]

    response = new_client().post(
        reverse("liquidation:cancel"), form_encoded([*pairs, ("next", next_url)]),
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert response.status_code in (302, 404), response.status_code
    Order.objects.all().delete()


# --- Every field of every form, with values no browser would send (lone surrogates included) -------

FORMS = {
    forms.CallFilterForm: {},
    forms.HistoryFilterForm: {},
    forms.AccountSearchForm: {},
    forms.ExceptionForm: {"action": "mark", "reason": "disputed"},
    forms.ExceptionBatchForm: {"action": "mark", "reason": "disputed", "calls": "1"},
    forms.RemarkForm: {"text": "called the client"},
    forms.DeadlineForm: {"deadline": "2027-01-05T16:00", "reason": "agreed", "shown": "1798531200"},
}


def make_form(form_class, data):
    return form_class(data, desks=[]) if form_class is forms.CallFilterForm else form_class(data)


@st.composite
def form_inputs(draw):
    form_class = draw(st.sampled_from(list(FORMS)))
    field = draw(st.sampled_from(sorted(form_class.base_fields)))
    values = draw(st.lists(nasty_text, min_size=1, max_size=3 if field == "calls" else 1))
    return form_class, field, values


@settings(FUZZ, max_examples=60)
@given(case=form_inputs())
def test_every_form_field_refuses_what_it_cannot_use_by_name(case):
    form_class, field, values = case
    data = QueryDict(mutable=True)
    for name, value in FORMS[form_class].items():
        data[name] = value
    data.setlist(field, values)
    form = make_form(form_class, data)

    if not form.is_valid():
        assert set(form.errors) == {field}, form.errors
        for error in form.errors[field]:
            assert error
        return
    for name, value in form.cleaned_data.items():
        free_text = isinstance(form.fields[name], forms.FreeTextField)
        if isinstance(value, str):
            assert forbidden_character(value, free_text=free_text) is None, (name, value)
        elif isinstance(value, Decimal):
            assert value.is_finite()
            assert abs(value) < 10**9
        elif isinstance(value, int) and not isinstance(value, bool):
            # Within the field's own bounds (a page number's by default).
            bounded = form.fields[name]
            low, high = getattr(bounded, "min_value", None), getattr(bounded, "max_value", None)
            assert value >= (1 if low is None else low), (name, value)
            assert value <= (forms.MAX_PAGE if high is None else high), (name, value)
        elif isinstance(value, list):
            assert all(0 <= pk < 10**18 for pk in value)


@settings(FUZZ, max_examples=40)
@given(values=st.lists(st.one_of(nasty_text, st.sampled_from(["ticks", "lending", "notice_status"])), max_size=4))
def test_an_api_tokens_scopes_are_only_those_ticked(book, values):
    from django.forms import modelform_factory

    from book.admin import ApiTokenForm
    from book.models import ApiScope, ApiToken

    data = QueryDict(mutable=True)
    data.update({"name": "fuzz-token", "active": "on"})
    data.setlist("scopes", values)
    form = modelform_factory(ApiToken, form=ApiTokenForm, fields=["name", "scopes", "active"])(data)

    if not form.is_valid():
        assert set(form.errors) == {"scopes"}, form.errors
        return
    scopes = form.cleaned_data["scopes"].split(",")
    assert set(scopes) == set(values) <= set(ApiScope.values)


@settings(FUZZ, max_examples=40)
@given(
    kind=st.one_of(nasty_text, st.sampled_from(["stock", "option"])),
    max_move=st.one_of(nasty_text, st.decimals(allow_nan=True).map(str), st.sampled_from(["30", "0.01", "10000"])),
)
def test_a_price_band_is_saved_only_as_a_kind_and_a_move_it_can_use(book, kind, max_move):
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from book.models import MAX_BAND_PERCENT, PriceBand

    request = RequestFactory().post("/")
    request.user = User(is_superuser=True, is_staff=True)
    form_class = admin.site._registry[PriceBand].get_form(request)
    form = form_class({"kind": kind, "max_move": max_move})

    if not form.is_valid():
        assert set(form.errors) <= {"kind", "max_move"}, form.errors
        said = {"kind": ("Select a valid choice", "This field is required")}
        said["max_move"] = ("Enter a number", "Ensure ", "This field is required")
        for field, errors in form.errors.items():  # the admin's own words, naming what is wrong
            assert all(error.startswith(said[field]) for error in errors), errors
        assert not PriceBand.objects.exists()
        return
    band = form.save()  # what the database keeps is what the form took
    band.refresh_from_db()
    assert band.kind in ("stock", "option")
    assert Decimal("0.01") <= band.max_move <= MAX_BAND_PERCENT
    assert band.max_move == form.cleaned_data["max_move"]
    band.delete()


# --- POST /api/ticks -----------------------------------------------------------------------------


@pytest.fixture
def token(book):
    from book.models import ApiToken

    api_token = ApiToken(name="feed")
    secret = api_token.issue()
    api_token.save()
    return secret


def post_ticks(body: str | bytes, token: str):
    client = Client(raise_request_exception=False)
    return client.post(
        reverse("book:api-ticks"), data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def in_window(text) -> bool:
    """A time that exists is kept only inside the years the desk works in (see the module docstring)."""
    try:
        return 2000 <= parse_datetime(text).year <= 2100
    except FieldError:
        return True


OLD_TIMES = ["2020-01-02T10:00:00+08:00", "2020-01-02 10:00"]  # older than any stored price: refused
tick_field = {
    "symbol": st.one_of(st.sampled_from(["S.HK", "NOPE"]), json_values),
    "price": st.one_of(st.sampled_from(["120", "0.5", "-1", "0"]), json_values),
    "time": st.one_of(st.sampled_from(OLD_TIMES), json_values.filter(in_window)),
}
tick_items = st.one_of(
    st.fixed_dictionaries({}, optional=tick_field),  # some keys missing
    st.tuples(st.fixed_dictionaries(tick_field), nasty_text.filter(lambda key: key not in tick_field), json_values).map(
        lambda parts: {**parts[0], parts[1]: parts[2]}  # a key too many
    ),
    json_values,
)
control_times = itertools.count()


@FUZZ
@given(items=st.lists(tick_items, max_size=4), position=st.integers(min_value=0, max_value=4))
def test_each_bad_tick_is_refused_alone_and_the_good_one_applied(token, items, position):
    # One good tick, newer each time; everything else is refused, and only the good one is written.
    # After the book's as_of (10:00), before the tests' clock (11:30).
    moment = datetime.fromisoformat("2026-12-23T10:30:00+08:00") + timedelta(seconds=next(control_times))
    good = {"symbol": "S.HK", "price": f"{100 + moment.second}.5", "time": moment.isoformat()}
    position = min(position, len(items))
    body = to_json([*items[:position], good, *items[position:]])

    before = Instrument.objects.values_list("price", "price_time").get(symbol="S.HK")

    response = post_ticks(body, token)

    answer = response.json()
    if response.status_code == 400:  # nesting deeper than JSON can be read makes the body unreadable
        assert answer == {"error": "the body is not valid JSON: nested too deeply"}
        assert Instrument.objects.values_list("price", "price_time").get(symbol="S.HK") == before
        return
    assert response.status_code == 200, response.status_code
    assert set(answer) == {"applied", "refused", "results"}
    assert (answer["applied"], answer["refused"]) == (1, len(items))
    assert [result["index"] for result in answer["results"]] == list(range(len(items) + 1))
    for result in answer["results"]:
        if result["index"] == position:
            assert result == {"index": position, "symbol": "S.HK", "status": "applied"}
        else:
            assert result["status"] == "refused"
            assert_prints(result["reason"])
            assert result["symbol"] is None or printable(result["symbol"]) == result["symbol"]
    stored = Instrument.objects.get(symbol="S.HK")
    assert (stored.price, stored.price_time) == (Decimal(good["price"]), moment)


@FUZZ
@given(
    body=st.one_of(
        json_values.map(to_json),
        st.lists(json_values, max_size=3).map(to_json),
        deep_nesting.map(str),
        st.binary(max_size=40),
        st.text(characters, max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
)
def test_no_body_breaks_the_ticks_api_and_a_refused_body_writes_nothing(token, body):
    before = list(Instrument.objects.order_by("pk").values("pk", "price", "price_time"))

    response = post_ticks(body, token)

    assert response.status_code in (200, 400), response.status_code
    answer = response.json()
    if response.status_code == 400:
        assert set(answer) == {"error"}
        assert_prints(answer["error"])
    else:
        assert set(answer) == {"applied", "refused", "results"}
        for result in answer["results"]:
            if result["status"] == "refused":
                assert_prints(result["reason"])
    if response.status_code == 400 or answer["applied"] == 0:
        assert list(Instrument.objects.order_by("pk").values("pk", "price", "price_time")) == before


# --- import_book: every key of a book file --------------------------------------------------------

FUZZED_BOOK = {
    "as_of": "2026-12-23T10:00:00+08:00",
    "fx_rates": {"USD": "7.8"},
    "desks": [{"code": "HK1", "name": "Desk 1"}],
    "instruments": [
        {
            "symbol": "S.HK",
            "name": "Stock S",
            "kind": "stock",
            "currency": "HKD",
            "lot_size": 100,
            "multiplier": 1,
            "status": "normal",
            "price": "100",
            "im_rate": "0.6",
            "mm_rate": "0.5",
            "fm_rate": "0.4",
            "short_im_rate": "0.7",
            "short_mm_rate": "0.6",
            "short_fm_rate": "0.5",
        },
        {
            "symbol": "S270330C120",
            "kind": "option",
            "underlying": "S.HK",
            "option_type": "call",
            "strike": "120",
            "expiry": "2027-03-30",
            "price": "1.5",
            "multiplier": 100,
        },
    ],
    "accounts": [
        {
            "account_no": "T1",
            "name": "Test client",
            "kind": "margin",
            "desk": "HK1",
            "credit_limit": "1000000",
            "accrued_interest": "12.5",
            "debt_margin": "0",
            "trading_limit": "0",
            "email": "client@example.com",
            "phone": "+85291234567",
            "language": "zh-hant",
            "cash": {"HKD": "-60000", "USD": "10"},
            "positions": [{"symbol": "S.HK", "quantity": 1000}, {"symbol": "S270330C120", "quantity": -1}],
        }
    ],
    "lending": [{"symbol": "S.HK", "lendable": 1000}],
}


def paths(value, path=()):
    """Every place in a book: each section, record, field and amount."""
    if path:
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from paths(item, (*path, key))


def at(book, path):
    for key in path:
        book = book[key]
    return book


BOOK_PATHS = list(paths(FUZZED_BOOK))
OBJECT_PATHS = [(), *(path for path in BOOK_PATHS if isinstance(at(FUZZED_BOOK, path), dict))]


def dotted(path) -> str:
    """A path as the messages write it: accounts[0].cash.USD."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return text


def stored_text():
    """Every text the book import writes, to check nothing unstorable got in."""
    return [
        *Desk.objects.values_list("code", "name"),
        *Instrument.objects.values_list("symbol", "name", "currency", "kind", "status", "option_type"),
        *Account.objects.values_list("account_no", "name", "kind", "email", "phone", "language"),
        *CashBalance.objects.values_list("currency"),
    ]


@pytest.fixture
def book_file(import_book, tmp_path):
    import_book(FUZZED_BOOK)  # so a refused file has something it must leave as it is
    return tmp_path / "book.json"


def run_import(path, book) -> tuple[bool, list[str]]:
    path.write_text(to_json(book), encoding="utf-8")
    stderr = io.StringIO()
    try:
        call_command("import_book", str(path), stdout=io.StringIO(), stderr=stderr)
    except CommandError as error:
        return False, [*stderr.getvalue().splitlines(), str(error)]
    return True, []


def check_import(book_file, book, named):
    """Import ``book``: refused with a message that ``named`` accepts and nothing written, or written
    with nothing unstorable."""
    before = book_state()

    accepted, messages = run_import(book_file, book)

    if accepted:
        for row in stored_text():
            for text in row:
                assert forbidden_character(text) is None, row
        return
    *messages, summary = messages
    assert "nothing was written" in summary
    assert messages
    for message in messages:
        assert_prints(message)
    assert any(named(message) for message in messages), messages
    assert book_state() == before


def whole_file_or_reference(message: str) -> bool:
    """A message about the whole file, about a name the changed value no longer matches, or about an
    account whose figures it would take past what can be computed or stored (``accounts.T1: ...``)."""
    return message.startswith(("not valid JSON", "accounts.")) or "unknown" in message or "no FX rate" in message


@settings(FUZZ, max_examples=60)
@given(path=st.sampled_from(BOOK_PATHS), value=json_values)
def test_every_book_field_refuses_a_nasty_value_by_path(book_file, path, value):
    book = copy.deepcopy(FUZZED_BOOK)
    parent = at(book, path[:-1])
    parent[path[-1]] = value
    if path == ("as_of",) and not in_window(value):
        return

    check_import(book_file, book, lambda message: message.startswith(dotted(path)) or whole_file_or_reference(message))


@FUZZ
@given(path=st.sampled_from(OBJECT_PATHS), key=nasty_text, value=json_values)
def test_every_book_record_refuses_a_nasty_key_by_path(book_file, path, key, value):
    book = copy.deepcopy(FUZZED_BOOK)
    at(book, path)[key] = value
    # A key at the top is its own path: as it is, or quoted in brackets when it would not print plainly.
    prefix = dotted(path) or ("[", key)

    check_import(book_file, book, lambda message: message.startswith(prefix) or whole_file_or_reference(message))


# --- notices: the send and preview forms, the Notices page, resend, POST /api/notices/status ---------


@st.composite
def notice_forms(draw):
    pairs = [("calls", b"CALL"), ("channels", b"email"), ("kind", b"manual"), ("key", b"form-key-123456")]
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["calls", "channels", "kind", "text", "key"]))
        pairs = [pair for pair in pairs if pair[0] != name] if draw(st.booleans()) else pairs
        pairs.append((name, draw(st.one_of(http_values, st.sampled_from([b"sms", b"voice", b"{account}", b"{x}"])))))
    return pairs


@FUZZ
@given(pairs=notice_forms())
def test_no_value_breaks_sending_or_previewing_a_notice(call, new_client, pairs):
    from notices.models import Delivery, Notice

    pairs = [(name, str(call.pk).encode() if value == b"CALL" else value) for name, value in pairs]
    client = new_client()

    preview = client.get(f"{reverse('notices:preview')}?{form_encoded(pairs)}")
    assert preview.status_code == 200, preview.status_code
    response = client.post(
        reverse("notices:send"), form_encoded(pairs), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code in (302, 404), response.status_code
    for level, text in posted(response):
        assert_prints(text)
        if level == "error":
            assert not Notice.objects.exists()
    for delivery in Delivery.objects.all():
        assert forbidden_character(delivery.body, free_text=True) is None
    Delivery.objects.all().delete()
    Notice.objects.all().delete()


@FUZZ
@given(ids=st.lists(st.one_of(http_values, st.just(b"DELIVERY")), max_size=3), next_url=http_values)
def test_no_value_breaks_resending(call, new_client, ids, next_url):
    from notices.models import Delivery, Notice

    notice = Notice.objects.create(call=call, account=call.account, kind="manual", key="manual:fuzz")
    delivery = Delivery.objects.create(notice=notice, channel="voice", language="en", body="x", status="failed")
    pairs = [("deliveries", str(delivery.pk).encode() if value == b"DELIVERY" else value) for value in ids]

    response = new_client().post(
        reverse("notices:resend"), form_encoded([*pairs, ("next", next_url)]),
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert response.status_code in (302, 404), response.status_code
    for _level, text in posted(response):
        assert_prints(text)
    Delivery.objects.all().delete()
    Notice.objects.all().delete()


@FUZZ
@given(
    body=st.one_of(
        json_values.map(to_json),
        st.lists(json_values, max_size=3).map(to_json),
        st.lists(
            st.fixed_dictionaries(
                {"id": json_values, "status": st.sampled_from(["delivered", "failed", "x"]), "time": json_values},
                optional={"error": json_values},
            ),
            max_size=3,
        ).map(to_json),
        deep_nesting.map(str),
        st.binary(max_size=40),
    )
)
def test_no_body_breaks_the_notice_status_api(token, body):
    client = Client(raise_request_exception=False)
    response = client.post(
        reverse("notices:api-status"), data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code in (200, 400), response.status_code
    answer = response.json()
    if response.status_code == 400:
        assert_prints(answer["error"])
    else:
        for result in answer["results"]:
            if result["status"] == "refused":
                assert_prints(result["reason"])


@FUZZ
@given(
    body=st.one_of(
        json_values.map(to_json),
        st.lists(
            st.fixed_dictionaries({"symbol": json_values, "lendable": json_values, "time": json_values}), max_size=3
        ).map(to_json),
        deep_nesting.map(str),
        st.binary(max_size=40),
    )
)
def test_no_body_breaks_the_lending_api_and_a_refused_body_writes_nothing(token, body):
    from book.models import LendingAvailability

    before = list(LendingAvailability.objects.values())
    response = Client(raise_request_exception=False).post(
        reverse("book:api-lending"), data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code in (200, 400), response.status_code
    answer = response.json()
    if response.status_code == 400:
        assert_prints(answer["error"])
        assert list(LendingAvailability.objects.values()) == before
    else:
        for result in answer["results"]:
            if result["status"] == "refused":
                assert_prints(result["reason"])


# --- recovery: the lending page's stock, buy back, statuses ------------------------------------------


@FUZZ
@given(stock=http_values)
def test_no_stock_breaks_the_lending_overview(book, new_client, stock):
    response = new_client().get(f"{reverse('recovery:lending')}?{form_encoded([('stock', stock)])}")
    assert response.status_code == 200, response.status_code


@FUZZ
@given(
    action=st.sampled_from(["buy-back", "pool-status", "short-status", "message"]),
    pairs=st.lists(
        st.tuples(st.sampled_from(["account", "symbol", "quantity", "key", "stock", "status", "remark", "next",
                                   "items", "cases", "channels", "text"]),
                  http_values),
        max_size=5,
    ),
)  # fmt: skip
def test_no_value_breaks_a_recovery_action(call, new_client, action, pairs):
    from django.utils import timezone

    from liquidation.models import Order
    from recovery.models import RecoveryScan, ShortStockItem

    item, _created = ShortStockItem.objects.get_or_create(
        account=call.account, instrument=call.account.positions.first().instrument, resolved_at=None,
        defaults={"reason": "not_shortable", "short_quantity": 100, "quantity": 100, "due": timezone.now(),
                  "scan": RecoveryScan.objects.create()},
    )  # fmt: skip
    url = reverse(f"recovery:{action}", args=[item.pk] if action == "short-status" else [])

    response = new_client().post(url, form_encoded(pairs), content_type="application/x-www-form-urlencoded")

    assert response.status_code in (302, 404), response.status_code
    for _level, text in posted(response):
        assert_prints(text)
    item.refresh_from_db()
    assert forbidden_character(item.remark, free_text=True) is None
    Order.objects.all().delete()


# --- The admin's confirmation of a change that moves calls ------------------------------------------


@settings(FUZZ, max_examples=20)
@given(token=http_values)
def test_no_confirmation_saves_a_change_that_moves_calls_unless_it_is_the_one_shown(book, token):
    from django.contrib.auth.models import User

    from risk.models import RuleSet
    from tests.risk.test_views import RULE_SET_FORM

    admin = User.objects.get_or_create(username="fuzz-admin", defaults={"is_staff": True, "is_superuser": True})[0]
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])
    fields = {**RULE_SET_FORM, "call_coefficient": "10"}
    form = form_encoded([*((name, str(value).encode()) for name, value in fields.items()), ("_confirm_impact", token)])
    before = call_state()

    response = client.post(url, form, content_type="application/x-www-form-urlencoded")

    assert response.status_code in (200, 400), response.status_code
    assert RuleSet.objects.get(pk=rule_set.pk).call_coefficient == 1
    assert call_state() == before
