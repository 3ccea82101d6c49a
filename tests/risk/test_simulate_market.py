"""The demo's market simulator moves prices through the tick path and, now and then, what the prime
broker can lend through the lending API's path."""

import io

import pytest
from django.core.management import call_command

from book.models import Instrument, LendingAvailability

pytestmark = pytest.mark.django_db


def test_the_simulator_moves_prices_and_the_lending_pool(import_book, worked_book):
    worked_book["lending"] = [{"symbol": "A.HK", "lendable": 50000}]
    import_book(worked_book)
    prices = dict(Instrument.objects.values_list("symbol", "price"))
    before = LendingAvailability.objects.get()

    out = io.StringIO()
    call_command("simulate_market", "--rounds", "30", "--interval", "0", "--seed", "3", stdout=out)

    after = LendingAvailability.objects.get()
    assert after.as_of > before.as_of
    assert f"lendable A.HK: 50,000 -> {after.lendable:,}" in out.getvalue()
    assert dict(Instrument.objects.values_list("symbol", "price")) != prices
