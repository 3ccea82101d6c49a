"""Price bands: a tick that moves its price further than its kind's band is held, not applied, until a
later tick near it confirms the move; the admin and a book that say the price clear it."""

import json
import logging
from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from book.models import Instrument, PendingRecompute, PriceBand
from book.ticks import apply_ticks
from risk.models import AccountRisk
from tests.books import one_stock_book
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db
URL = reverse("book:api-ticks")


@pytest.fixture
def stock(import_book):
    import_book(one_stock_book())  # S.HK at 100, stored at 10:00
    return Instrument.objects.get(symbol="S.HK")


def tick(price, minute, second=0):
    return {"symbol": "S.HK", "price": price, "time": f"2026-12-23T10:{minute:02d}:{second:02d}+08:00"}


def post(token, *ticks):
    response = Client().post(
        URL, data=json.dumps(list(ticks)), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def stored():
    return Instrument.objects.values_list("price", "held_price").get(symbol="S.HK")


def test_without_a_band_every_tick_is_applied(stock, token):
    PriceBand.objects.create(kind="option", max_move=Decimal("20"))  # another kind's band

    [result] = post(token, tick("1000", 30))

    assert result["status"] == "applied"
    assert stored() == (Decimal("1000"), None)


def test_a_tick_beyond_the_band_is_held_and_moves_no_figure(stock, token, caplog, django_capture_on_commit_callbacks):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    equity = AccountRisk.objects.get(account__account_no="T1").equity

    with caplog.at_level(logging.WARNING, logger="margincall.alerts"), django_capture_on_commit_callbacks(execute=True):
        [result] = post(token, tick("130", 30))

    assert result == {
        "index": 0,
        "symbol": "S.HK",
        "status": "refused",
        "reason": "held: +30.00% from the stored price 100, more than the 20% price band of its kind (stock);"
        " a later tick within 20% of 130 confirms it",
    }
    assert stored() == (Decimal("100"), Decimal("130"))
    assert not PendingRecompute.objects.exists()
    assert AccountRisk.objects.get(account__account_no="T1").equity == equity
    assert "price of S.HK held: +30.00%" in caplog.text


def test_a_later_tick_near_the_held_price_confirms_the_move(stock, token, caplog, django_capture_on_commit_callbacks):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("40", 30))  # -60%: held

    [again] = post(token, tick("45", 30))  # near it, but stamped as the held one: no second tick
    assert again["status"] == "refused"
    assert stored() == (Decimal("100"), Decimal("45"))

    with caplog.at_level(logging.WARNING, logger="margincall.alerts"), django_capture_on_commit_callbacks(execute=True):
        [confirmed] = post(token, tick("44", 31))

    confirming = "price of S.HK 44 applied: it confirms the move from 100 to 45 held at 2026-12-23T10:30:00+08:00"
    assert confirming in caplog.text

    assert confirmed["status"] == "applied"
    assert stored() == (Decimal("44"), None)
    assert AccountRisk.objects.get(account__account_no="T1").equity == Decimal("-16000.00")  # 1,000 x 44 - 60,000


def test_a_tick_near_the_stored_price_applies_and_forgets_the_held_one(
    stock, token, caplog, django_capture_on_commit_callbacks
):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("1000", 30))

    with caplog.at_level(logging.WARNING, logger="margincall.alerts"), django_capture_on_commit_callbacks(execute=True):
        [result] = post(token, tick("101", 31))
    assert result["status"] == "applied"
    assert "applied: it confirms" not in caplog.text  # the market came back: not the held move
    assert stored() == (Decimal("101"), None)
    [far] = post(token, tick("990", 32))  # held again: the stray 1,000 confirms nothing now
    assert far["status"] == "refused"
    assert stored() == (Decimal("101"), Decimal("990"))


def test_a_band_taken_away_lets_the_next_tick_through_and_says_the_held_one_is_forgotten(
    stock, token, caplog, django_capture_on_commit_callbacks
):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("300", 30))
    PriceBand.objects.all().delete()

    with caplog.at_level(logging.WARNING, logger="margincall.alerts"), django_capture_on_commit_callbacks(execute=True):
        [result] = post(token, tick("500", 31))

    assert result["status"] == "applied"
    assert stored() == (Decimal("500"), None)
    forgotten = "price of S.HK 500 applied with no price band now: the price 300 held at 2026-12-23T10:30:00+08:00"
    assert forgotten in caplog.text


def test_a_move_of_exactly_the_band_is_applied(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))

    results = post(token, tick("80", 30), tick("96", 31))  # -20% of 100, then +20% of 80

    assert [result["status"] for result in results] == ["applied", "applied"]
    assert stored() == (Decimal("96"), None)


def test_ticks_of_one_body_meet_each_other_in_order(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))

    first = post(token, tick("200", 30), tick("199", 31))  # held, then confirmed within the same body
    assert [result["status"] for result in first] == ["refused", "applied"]
    assert stored() == (Decimal("199"), None)

    second = post(token, tick("210", 32), tick("500", 33))  # applied, then held
    assert [result["status"] for result in second] == ["applied", "refused"]
    assert stored() == (Decimal("210"), Decimal("500"))


def test_the_admin_or_a_book_that_says_the_price_clears_a_held_tick(stock, token, import_book):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("300", 30))

    import_book(one_stock_book(as_of="2026-12-23T10:40:00+08:00", price="290"))
    assert stored() == (Decimal("290"), None)

    post(token, tick("30", 41))
    assert admin_save(stock, price="31", price_time_1="10:42:00").status_code == 302
    assert stored() == (Decimal("31"), None)

    post(token, tick("300", 43))
    assert admin_save(stock, price_time_1="10:44:00").status_code == 302  # 31 as of 10:44: the same price
    assert stored() == (Decimal("31"), None)
    post(token, tick("300", 45))
    assert admin_save(stock, im_rate="0.65").status_code == 302  # a margin rate: the price is not said again
    assert stored() == (Decimal("31"), Decimal("300"))


def admin_save(stock, **changes):
    """Save the instrument's admin form as it shows, with these changes (the price time as its two boxes)."""
    root = User.objects.get_or_create(username="root", defaults={"is_superuser": True, "is_staff": True})[0]
    admin = client_for(root)
    url = reverse("admin:book_instrument_change", args=[stock.pk])
    form = admin.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    moment = timezone.localtime(data.pop("price_time"))
    data.update({"price_time_0": f"{moment:%Y-%m-%d}", "price_time_1": f"{moment:%H:%M:%S}", **changes})
    shown = admin.post(url, data)
    if shown.status_code == 200 and shown.context.get("console_impact"):  # it moves calls: confirmed as shown
        shown = admin.post(url, {**data, "_confirm_impact": shown.context["console_impact"]["token"]})
    return shown


def test_a_held_tick_of_the_stored_prices_second_is_confirmed_by_a_later_one(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("300", 0))  # stamped as the stored price (10:00:00): a feed stamps a second's trades alike

    [confirming] = post(token, tick("301", 1))

    assert confirming["status"] == "applied"
    assert stored() == (Decimal("301"), None)


def test_a_held_price_confirms_nothing_once_a_newer_price_is_stored(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("300", 30))
    Instrument.objects.filter(pk=stock.pk).update(price_time=datetime.fromisoformat("2026-12-23T10:45:00+08:00"))

    [result] = post(token, tick("299", 46))

    assert result["status"] == "refused"
    assert stored() == (Decimal("100"), Decimal("299"))


def test_a_tick_stamped_before_the_held_one_neither_replaces_nor_forgets_it(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    post(token, tick("300", 35))

    [far] = post(token, tick("500", 33))  # delivered late
    assert far["reason"].endswith("; stamped before the price held (300 at 2026-12-23T10:35:00+08:00), it is not kept")
    assert Instrument.objects.values_list("held_price", "held_time__minute").get(pk=stock.pk) == (Decimal("300"), 35)
    [near] = post(token, tick("101", 34))
    assert near["status"] == "applied"
    assert stored() == (Decimal("101"), Decimal("300"))
    [confirming] = post(token, tick("301", 36))
    assert confirming["status"] == "applied"
    assert stored() == (Decimal("301"), None)


@pytest.mark.parametrize(
    ("price", "said"),
    [
        ("120.004", "+20.01% from the stored price 100"),  # past the band: never reads as the band itself
        ("0.000001", "-99.99% from the stored price 100"),  # a fall: never reads as a price of 0
        ("79.999", "-20.01% from the stored price 100"),
    ],
)
def test_a_held_ticks_move_never_reads_as_within_the_band(stock, token, price, said):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))

    [result] = post(token, tick(price, 30))

    assert result["reason"].startswith(f"held: {said}, more than the 20% price band")


def test_a_stored_price_without_a_time_is_measured_from(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    Instrument.objects.filter(pk=stock.pk).update(price_time=None)

    [result] = post(token, tick("100000", 30))

    assert result["status"] == "refused"
    Instrument.objects.filter(pk=stock.pk).update(price=0)
    assert post(token, tick("100000", 31))[0]["status"] == "applied"  # nothing stored to measure from


def test_the_desk_is_told_which_prices_are_held(stock, token):
    PriceBand.objects.create(kind="stock", max_move=Decimal("20"))
    trader = client_for(make_user("desk", "RiskWarningReadOnly"))
    page = trader.get(reverse("risk:warning")).content.decode()
    assert 'data-testid="prices-held"' not in page

    post(token, tick("300", 30))
    freshness = trader.get(reverse("risk:freshness")).content.decode()

    assert "price held by its band: S.HK" in freshness
    assert 'class="freshness stale"' in freshness
    account = trader.get(reverse("risk:account", args=["T1"])).content.decode()
    assert 'data-testid="held-price"' in account
    assert "held: 300.00" in account


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("0", "greater than or equal to 0.01"),
        ("-5", "greater than or equal to 0.01"),
        ("10000.01", "less than or equal to 10000"),
        ("NaN", "Enter a number"),
        ("1e400", "no more than 7 digits in total"),
        ("\x00", "Enter a number"),
        ("٣٠", "Enter a number"),  # the admin reads ASCII digits only, as the book and the feed do
    ],
)
def test_the_admin_refuses_a_band_that_cannot_be(db, value, error):
    admin = client_for(User.objects.create_superuser("root", password="pw"))

    response = admin.post(reverse("admin:book_priceband_add"), {"kind": "stock", "max_move": value})

    assert response.status_code == 200
    assert error in str(response.context["adminform"].form.errors["max_move"])
    assert not PriceBand.objects.exists()


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000"), places=2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    band=st.decimals(min_value=Decimal("1"), max_value=Decimal("200"), places=2),
    moves=st.lists(st.tuples(prices, st.booleans()), min_size=1, max_size=12),
)
def test_a_price_moves_beyond_the_band_only_where_a_later_tick_confirmed_it(stock, band, moves):
    # Each tick is applied or held; a step of the stored price larger than the band is always the
    # confirmation of a held price by a later tick within the band of it.
    from django.db import transaction

    Instrument.objects.filter(pk=stock.pk).update(
        price=Decimal("100"),
        price_time=datetime.fromisoformat("2026-12-23T10:00:00+08:00"),
        held_price=None,
        held_time=None,
    )
    PriceBand.objects.update_or_create(kind="stock", defaults={"max_move": band})
    fraction = band / 100
    second = 0
    for price, later in moves:
        second += 1 if later else 0
        before_price, before_held, before_time = Instrument.objects.values_list("price", "held_price", "held_time").get(
            pk=stock.pk
        )
        item = {"symbol": "S.HK", "price": str(price), "time": f"2026-12-23T10:50:{second:02d}+08:00"}
        with transaction.atomic():
            [outcome] = apply_ticks([item]).outcomes
        after_price, after_held = stored()
        if outcome.applied:
            assert (after_price, after_held) == (price, None)
            if abs(price - before_price) > fraction * before_price:
                assert before_held is not None
                assert abs(price - before_held) <= fraction * before_held
                assert before_time.second < second
        else:
            assert outcome.reason.startswith("held: ")
            assert (after_price, after_held) == (before_price, price)
            assert abs(price - before_price) > fraction * before_price
