"""A management command given a bad argument says what is wrong in one line and writes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from book.models import Instrument

NOT_UTF8 = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what Python makes of such bytes in argv


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (["export_risk", "--account", NOT_UTF8], "holds a character that is not allowed"),
        (["export_risk", "--account", "M1\x1b[31m"], "holds a character that is not allowed"),
        (["recompute", "--account", NOT_UTF8], "holds a character that is not allowed"),
        (["export_notices", "--account", "\x00"], "holds a character that is not allowed"),
        (["export_orders", "--account", NOT_UTF8], "holds a character that is not allowed"),
        (["export_orders", "--account", "NOPE"], "unknown account(s): 'NOPE'"),
        (["plan_liquidation", NOT_UTF8], "holds a character that is not allowed"),
        (["liquidate", "M100001", "--user", NOT_UTF8, "--plan"], "holds a character that is not allowed"),
        (["liquidate", "M100001", "--user", "x", "--plan", "--key", "a:b"], "the key must be"),
        (["simulate_market", "--interval", "NaN", "--rounds", "1"], "is not a number written in ASCII digits"),
        (["simulate_market", "--interval", "-1", "--rounds", "1"], "is not from 0 to 3600"),
        (["simulate_market", "--volatility", "1e308", "--rounds", "1"], "is not a number written in ASCII digits"),
        (["simulate_market", "--per-round", "-5", "--rounds", "1"], "is not from 1 to 10000"),
        (["simulate_market", "--rounds", "-1"], "is not from 0 to 1000000000"),
        (["simulate_market", "--shock-chance", "inf", "--rounds", "1"], "is not a number written in ASCII digits"),
        (["simulate_market", "--shock-chance", "-5", "--rounds", "1"], "is not from 0 to 1"),
        (["simulate_market", "--seed", "٥", "--rounds", "1"], "is not a number written in ASCII digits"),
        (["plan_liquidation", "M100001", "--buffer", "0." + "0" * 30 + "1"], "has more than 30 digits"),
        (["seed_demo", "--accounts", "99999999999999999999"], "is not from 1 to 1000000"),
        (["seed_demo", "--accounts", "٣"], "is not a number written in ASCII digits"),
        (["migrations_match", "--database", "nope"], "invalid choice: 'nope'"),
        (["run_beat", "--rounds", "1e3"], "is not a number written in ASCII digits"),
    ],
)
def test_a_bad_argument_is_named_and_nothing_moves(book, command, error):
    prices = list(Instrument.objects.order_by("pk").values_list("price", "price_time"))

    with pytest.raises(CommandError) as raised:
        call_command(*command, stdout=StringIO(), stderr=StringIO())

    assert error in str(raised.value)
    assert list(Instrument.objects.order_by("pk").values_list("price", "price_time")) == prices
