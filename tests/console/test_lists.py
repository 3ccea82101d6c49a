"""The lists' order: rows with no value last both ways, and, on a key every row has a value for, an order
one index serves read either way; each long list's default page is read from its index."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.lists import never_empty, ordering
from liquidation.models import Order
from risk.forms import SORTS
from risk.models import MarginCall
from tests.users import client_for

pytestmark = pytest.mark.django_db


def test_only_keys_every_row_has_are_sorted_plainly():
    filled = never_empty(MarginCall, SORTS)

    assert {"amount", "equity", "account", "name", "triggered", "cause"} <= filled
    # Nullable fields (no ratio without exposure; no auto-liquidation time; open calls are not closed),
    # and a rank computed from stored codes, keep their empty rows last.
    assert not {"ratio", "auto", "closed", "type"} & filled


def test_a_many_valued_relation_or_a_name_that_is_no_field_is_not_vouched_for():
    from django.contrib.auth.models import User

    sorts = {"group": "groups__name", "user": "username", "pk": "pk", "day": "date_joined__date"}

    assert never_empty(User, sorts) == {"user"}


def test_empty_values_go_last_both_ways_unless_every_row_has_one():
    def sql(sort, **kwargs):
        return str(MarginCall.objects.order_by(ordering(SORTS, sort, **kwargs)).values("pk").query)

    assert sql("auto").endswith('"auto_liquidate_at" ASC NULLS LAST')
    assert sql("-auto").endswith('"auto_liquidate_at" DESC NULLS LAST')
    assert sql("-amount", filled={"amount"}).endswith('"call_amount" DESC')
    assert sql("amount", filled={"amount"}).endswith('"call_amount" ASC')


def page_keys_plan(client, url) -> str:
    """How PostgreSQL would read the page's keys (the first query cut to a page), were it free to sort."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    [keys] = [q["sql"] for q in queries if 'AS "pk"' in q["sql"] and "LIMIT 50" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a plan that still sorts has no index in this order
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + keys)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_sort")
        cursor.execute("RESET enable_seqscan")
    return plan


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "index"),
    [
        (reverse("risk:warning"), "margin_call_open_by_amount"),
        (reverse("risk:warning") + "?tab=exception", "margin_call_open_by_amount"),
        (reverse("risk:history"), "margin_call_closed_at"),
        (reverse("risk:history") + "?sort=closed", "margin_call_closed_at"),  # oldest first: read backwards
        (reverse("risk:history") + "?closed_from=2026-12-01&closed_to=2026-12-07", "margin_call_closed_at"),
        (reverse("liquidation:orders"), "order_newest_first"),
        (reverse("notices:list"), "delivery_newest_first"),
    ],
)
def test_each_long_list_reads_its_default_page_from_its_index(book, trader, desk_trader, url, index):
    for user in (trader, desk_trader):
        plan = page_keys_plan(client_for(user), url)

        assert index in plan, plan
        assert not re.search(r"^(\s*->)?\s*Sort  \(", plan, re.MULTILINE), plan  # an incremental sort may follow


def test_a_day_filter_is_a_range_of_the_stored_time(book, trader):
    with CaptureQueriesContext(connection) as queries:
        client_for(trader).get(reverse("liquidation:orders"), {"day": "2026-12-22"})

    assert Order.objects.count() == 0
    sent = "\n".join(q["sql"] for q in queries if "liquidation_order" in q["sql"])
    assert "AT TIME ZONE" not in sent  # not the time's date, which no index serves
    assert "::date" not in sent
