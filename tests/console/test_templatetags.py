"""The console's display filters."""

from datetime import UTC, datetime
from decimal import Decimal

import time_machine
from django.http import QueryDict

from console.templatetags.console import language_name, shortfall_class, sort_href, when


def test_a_shortfall_is_flagged_only_when_there_is_one():
    assert shortfall_class(Decimal("149612.00")) == "neg"
    assert shortfall_class(Decimal("-149612.00")) == ""  # a surplus
    assert shortfall_class(Decimal("0")) == ""
    assert shortfall_class(None) == ""


@time_machine.travel(datetime(2026, 12, 23, 3, 0, tzinfo=UTC), tick=False)
def test_a_time_in_a_list_goes_without_this_years_year():
    assert when(datetime(2026, 12, 10, 8, 0, tzinfo=UTC)) == '<span title="2026-12-10 16:00">12-10 16:00</span>'
    assert when(datetime(2025, 12, 10, 8, 0, tzinfo=UTC)) == '<span title="2025-12-10 16:00">2025-12-10 16:00</span>'
    # Hong Kong time: the next year there
    assert when(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == '<span title="2027-01-01 01:00">2027-01-01 01:00</span>'
    assert when(None) == ""


def test_a_language_is_named_as_the_language_menu_names_it():
    assert [language_name(code) for code in ("en", "zh-hans", "zh-hant", "xx")] == [
        "English",
        "简体中文",
        "繁體中文",
        "xx",
    ]


def test_a_column_sorts_first_the_way_it_is_read_then_toggles():
    def href(key, current):
        return sort_href({"query": QueryDict("desk=1", mutable=True), "sort": current}, key)

    assert href("ratio", "-amount") == "?desk=1&sort=ratio"  # the lowest net asset ratio first
    assert href("ratio", "ratio") == "?desk=1&sort=-ratio"
    assert href("deadline", "-amount") == "?desk=1&sort=deadline"  # the nearest first
    assert href("amount", "ratio") == "?desk=1&sort=-amount"  # the largest call first
    assert href("amount", "-amount") == "?desk=1&sort=amount"
