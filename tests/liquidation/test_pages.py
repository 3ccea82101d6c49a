"""The liquidation panel on a call's details, the Liquidation Orders page, and their actions."""

import csv
import io

import pytest
from django.urls import reverse

from liquidation.models import Batch, Order, OrderStatus
from risk.models import MarginCall
from tests.users import client_for


@pytest.fixture
def call(book):
    return MarginCall.objects.get(account__account_no="M100001")


def plan_form(call, **quantities):
    data = {"key": "form-key-123456", "next": reverse("risk:call", args=[call.pk])}
    for symbol, quantity in (quantities or {"B.HK": "1000", "A.HK": "1100"}).items():
        data.setdefault("symbol", []).append(symbol)
        data[f"quantity:{symbol}"] = quantity
    return data


def test_the_details_show_the_plan_with_free_and_covering_quantities(call, trader):
    response = client_for(trader).get(reverse("risk:call", args=[call.pk]))

    html = response.content.decode()
    assert 'data-testid="liquidation-panel"' in html
    assert 'data-testid="liquidate"' in html
    assert 'name="quantity:A.HK" value="1100"' in html
    assert 'name="quantity:B.HK" value="1000"' in html
    assert 'name="price:A.HK" value="372.40"' in html
    row = html[html.index('<tr data-symbol="A.HK">') :]
    assert '<td class="num" data-testid="covering">1,500</td>' in row[: row.index("</tr>")]


def test_once_working_orders_cover_the_details_say_nothing_more_is_needed(call, trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the orders stay working
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))

    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()

    assert "The working orders cover the call once they fill: nothing more is needed." in html
    row = html[html.index('<tr data-symbol="A.HK">') :]
    assert "nothing needed" in row[: row.index("</tr>")]
    assert 'data-testid="left-after-working">0.00<' in html


def test_working_orders_priced_far_from_the_market_do_not_count_as_covering(call, trader, settings):
    from book.models import Instrument
    from liquidation import services

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the orders stay working
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))  # at the default limits
    assert Order.objects.count() == 2
    # The market runs away from them: the sell at 372.40 is far above A.HK at 300, the buy at 81.60 far
    # below B.HK at 100.
    Instrument.objects.filter(symbol="A.HK").update(price="300")
    Instrument.objects.filter(symbol="B.HK").update(price="100")

    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()

    assert "The working orders cover the call once they fill" not in html
    row = html[html.index('<tr data-symbol="A.HK">') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="away"' in row
    assert ">1,100 far from the market<" in row
    [request] = services.liquidate_calls(user=trader, accounts=[call.account])
    assert request.refused != "The plan has no order: the call is already covered."
    # The market comes back: within the band (2%) of their limits, they count again.
    Instrument.objects.filter(symbol="A.HK").update(price="380")
    Instrument.objects.filter(symbol="B.HK").update(price="80")
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="away"' not in html
    [request] = services.liquidate_calls(user=trader, accounts=[call.account])
    assert request.refused == "The plan has no order: the call is already covered."


def test_the_viewer_sees_the_plan_but_no_button(call, viewer):
    html = client_for(viewer).get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="plan"' in html
    assert 'data-testid="liquidate"' not in html
    assert 'data-testid="cancel-orders"' not in html
    # The plan's quantities and prices read as figures, not as boxes the viewer cannot type in.
    assert 'name="quantity:' not in html
    assert 'name="price:' not in html
    assert 'data-testid="planned">' in html


def test_a_refused_liquidation_comes_back_as_typed_once(call, trader):
    client = client_for(trader)
    url = reverse("liquidation:call-liquidate", args=[call.pk])
    data = {**plan_form(call, **{"A.HK": "300"}), "price:A.HK": "380.1"}  # off the HKEX grid

    response = client.post(url, data, follow=True)
    later = client.get(reverse("risk:call", args=[call.pk]))

    html = response.content.decode()
    assert "380.1 is not on the HKEX price grid" in html
    assert 'name="quantity:A.HK" value="300"' in html
    assert 'name="price:A.HK" value="380.1"' in html
    assert 'name="price:A.HK" value="380.1"' not in later.content.decode()  # shown once, then the plan again
    assert not Order.objects.exists()


def test_liquidating_from_the_details_places_the_orders_once(
    call, trader, django_capture_on_commit_callbacks, exchange
):
    client = client_for(trader)
    url = reverse("liquidation:call-liquidate", args=[call.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, plan_form(call), follow=True)
    assert "2 orders placed." in response.content.decode()
    again = client.post(url, plan_form(call), follow=True)  # the same form sent twice

    assert Order.objects.count() == 2
    assert "This form was already sent: its 2 orders stand; nothing more was placed." in again.content.decode()
    assert "2 orders placed." not in again.content.decode()
    while exchange():  # turn after turn until nothing is left to fill
        pass
    call.refresh_from_db()
    assert (call.status, call.close_cause) == ("closed", "liquidation")


def test_a_bad_quantity_or_price_is_named_and_nothing_is_placed(call, trader):
    client = client_for(trader)
    url = reverse("liquidation:call-liquidate", args=[call.pk])

    for quantities, why in (
        ({"A.HK": "150"}, "not a whole number of lots"),
        ({"A.HK": "-5"}, "whole number above 0"),
        ({"A.HK": "99999999"}, "more than the free quantity"),
        ({"A.HK": "99999999999999999999"}, "A.HK: the quantity is too large (20 digits; at most 15)."),
    ):
        response = client.post(url, plan_form(call, **quantities), follow=True)
        assert why in response.content.decode()
    response = client.post(url, {**plan_form(call, **{"A.HK": "100"}), "price:A.HK": "380.1"}, follow=True)
    assert "nearest valid prices are 380.00 and 380.20" in response.content.decode()
    response = client.post(url, {**plan_form(call), "key": "x"}, follow=True)
    assert "out of date" in response.content.decode()
    response = client.post(url, {**plan_form(call), "symbol": "", "quantity:": "100"}, follow=True)
    assert "A quantity was sent without its stock" in response.content.decode()
    assert not Order.objects.exists()


def test_the_orders_page_lists_filters_exports_and_cancels(call, trader):
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    orders = list(Order.objects.order_by("pk"))

    page = client.get(reverse("liquidation:orders"), {"status": "working", "symbol": "a.hk"})
    assert [o.pk for o in page.context["rows"]] == [orders[1].pk]
    rows = list(
        csv.reader(
            io.StringIO(client.get(reverse("liquidation:orders"), {"format": "csv"}).content.decode("utf-8-sig"))
        )
    )
    assert rows[0][:3] == ["Order", "Account", "Stock"]
    assert sorted(row[2] for row in rows[1:]) == ["A.HK", "B.HK"]

    # a value that is no order's key names no order: nothing is cancelled, as for another desk's order
    assert client.post(reverse("liquidation:cancel"), {"orders": [orders[1].pk, "abc"]}).status_code == 404
    assert Order.objects.get(pk=orders[1].pk).status != OrderStatus.CANCELLED
    response = client.post(reverse("liquidation:cancel"), {"orders": [orders[1].pk]}, follow=True)

    assert "1 order cancelled." in response.content.decode()
    assert Order.objects.get(pk=orders[1].pk).status == OrderStatus.CANCELLED
    assert Order.objects.get(pk=orders[0].pk).status != OrderStatus.CANCELLED


def test_the_batch_bar_liquidates_the_selected_calls_once_in_the_background(
    call, trader, django_capture_on_commit_callbacks
):
    from liquidation.models import Batch

    other = MarginCall.objects.get(account__account_no="T2")
    client = client_for(trader)
    html = client.get(reverse("risk:warning")).content.decode()
    assert 'data-testid="batch-liquidate"' in html
    data = {"calls": [call.pk, other.pk], "action": "liquidate", "key": "batch-key-123456", "only": "a.hk s.hk"}
    from liquidation import services
    from risk.calculations import round_money

    planned = services.plan_accounts([call.account, other.account], only=["A.HK", "S.HK"])

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(reverse("liquidation:batch"), data)
    again = client.post(reverse("liquidation:batch"), data)  # sent twice: the same batch
    response = client.get(first.url)

    batch = Batch.objects.get()
    assert first.url == again.url == reverse("liquidation:batch-detail", args=[batch.pk])
    assert (batch.status, batch.done, batch.total, batch.orders) == ("done", 2, 2, 2)
    assert 'data-status="done"' in response.content.decode()
    assert sorted(Order.objects.values_list("account__account_no", "instrument__symbol", "source")) == [
        ("M100001", "A.HK", "batch"),
        ("T2", "S.HK", "batch"),
    ]
    assert list(batch.items.values_list("outcome", flat=True)) == ["placed", "placed"]
    # Each call's plan as placed: whether it covers the call, and its value, as the preview showed them.
    placed = {item.call.account_id: item for item in batch.items.select_related("call")}
    for account in (call.account, other.account):
        plan = planned[account.pk]
        assert (placed[account.pk].covers, placed[account.pk].value) == (plan.covers, round_money(plan.value))
    assert response.content.decode().count('data-testid="batch-covers"') == 2


@pytest.mark.parametrize(("length", "started"), [(58, True), (59, False)])
def test_the_longest_batch_key_the_form_takes_still_places(
    call, trader, django_capture_on_commit_callbacks, length, started
):
    from liquidation.models import Batch

    data = {"calls": [call.pk], "action": "liquidate", "key": "k" * length, "next": reverse("risk:warning")}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(trader).post(reverse("liquidation:batch"), data)

    if started:  # its orders' keys ("batch-" and it) fit what an order's key may be
        batch = Batch.objects.get()
        assert (batch.status, batch.done, batch.error) == ("done", 1, "")
        assert batch.orders > 0
    else:
        assert response.status_code == 302
        assert not Batch.objects.exists()


def test_a_batch_leaves_a_call_marked_exception_and_its_page_still_liquidates_it(
    call, trader, django_capture_on_commit_callbacks
):
    from liquidation.models import Batch
    from risk import calls

    other = MarginCall.objects.get(account__account_no="T2")
    calls.mark_exception([other.pk], reason="client disputes", user=trader)
    client = client_for(trader)
    data = {"calls": [call.pk, other.pk], "action": "liquidate", "key": "batch-key-exc-1234"}

    with django_capture_on_commit_callbacks(execute=True):
        # A hand-made request (the bar is not on that tab), from a trader reading Simplified Chinese.
        client.post(reverse("liquidation:batch"), data, HTTP_ACCEPT_LANGUAGE="zh-hans")

    batch = Batch.objects.get()
    assert set(Order.objects.values_list("account__account_no", flat=True)) == {"M100001"}
    outcomes = {item.call_id: (item.outcome, item.refusal) for item in batch.items.all()}
    assert outcomes[call.pk] == ("placed", {})
    assert outcomes[other.pk][0] == "refused"
    assert outcomes[other.pk][1]["en"].startswith("The call is marked exception")
    assert outcomes[other.pk][1]["zh-hans"].startswith("该追收单已标记为异常单")
    # Why, as each reader reads the batch's page: in their own language, whoever started it.
    for language, why in [
        ("en", "The call is marked exception: a batch leaves it"),
        ("zh-hant", "該追收單已標記為異常單：批量平倉不處理它"),
    ]:
        page = client.get(reverse("liquidation:batch-detail", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE=language)
        assert why in page.content.decode()
    # From the call's own page, a trader decides alone.
    page = client.get(reverse("risk:call", args=[other.pk]))
    assert page.status_code == 200
    placed = client.post(
        reverse("liquidation:call-liquidate", args=[other.pk]),
        {"key": "page-key-exc-1234", "symbol": ["S.HK"], "quantity:S.HK": "100"},
    )
    assert placed.status_code == 302
    assert Order.objects.filter(account__account_no="T2").exists()


def test_a_batch_for_only_a_stock_the_book_does_not_hold_is_refused_naming_it(call, trader):
    data = {"calls": [call.pk], "action": "liquidate", "key": "batch-key-777777", "only": "A.HK zzz.hk"}

    response = client_for(trader).post(reverse("liquidation:batch"), data, follow=True)

    from liquidation.models import Batch

    assert "No such stock: zzz.hk" in response.content.decode()
    assert not Batch.objects.exists()
    # The list it goes back to has the rows and the bar as they were sent, to correct, once.
    assert response.context["batch_kept"] == {"calls": [call.pk], "fields": {"only": ["A.HK zzz.hk"]}}
    assert 'id="batch-kept"' in response.content.decode()
    assert client_for(trader).get(reverse("risk:warning")).context["batch_kept"] is None
    many = " ".join(f"Q{n}.HK" for n in range(201))
    response = client_for(trader).post(reverse("liquidation:batch"), {**data, "only": many}, follow=True)
    assert "At most 200 stocks; 201 were given." in response.content.decode()
    # Auto-liquidation sells by the plan: the stocks typed in the box beside it are not its concern.
    auto = {"calls": [call.pk], "action": "auto_deadline", "only": "zzz.hk"}
    response = client_for(trader).post(reverse("liquidation:batch"), auto, follow=True)
    assert "Auto-liquidation set on 1 call." in response.content.decode()


def test_a_batch_page_shows_only_the_users_desks(call, trader, desk_trader, django_capture_on_commit_callbacks):
    other = MarginCall.objects.get(account__account_no="T2")
    data = {"calls": [call.pk, other.pk], "action": "liquidate", "key": "batch-key-654321"}
    with django_capture_on_commit_callbacks(execute=True):
        url = client_for(trader).post(reverse("liquidation:batch"), data).url

    page = client_for(desk_trader).get(url)
    assert [item.call.account.account_no for item in page.context["items"]] == ["T2"]
    assert page.context["hidden"] == 1


def test_a_batch_key_already_used_by_another_user_or_for_other_calls_starts_nothing(
    call, trader, desk_trader, django_capture_on_commit_callbacks
):
    from liquidation.models import Batch

    other = MarginCall.objects.get(account__account_no="T2")
    data = {"calls": [call.pk], "action": "liquidate", "key": "batch-key-777777"}
    with django_capture_on_commit_callbacks(execute=True):
        url = client_for(trader).post(reverse("liquidation:batch"), data).url

    by_another = client_for(desk_trader).post(reverse("liquidation:batch"), {**data, "calls": [other.pk]}, follow=True)
    other_calls = client_for(trader).post(reverse("liquidation:batch"), {**data, "calls": [other.pk]}, follow=True)

    for response in (by_another, other_calls):
        assert response.redirect_chain[-1][0] == reverse("risk:warning")
        assert "This form was already used for another batch" in response.content.decode()
    assert Batch.objects.count() == 1
    assert not Order.objects.filter(account__account_no="T2").exists()
    assert client_for(desk_trader).get(url).status_code == 404  # none of its calls are on the user's desks


def test_the_viewer_has_no_batch_liquidation(call, viewer):
    html = client_for(viewer).get(reverse("risk:warning")).content.decode()
    assert 'data-testid="batch-liquidate"' not in html


def test_auto_liquidation_is_set_from_the_batch_bar_and_the_details(call, trader, settings):
    client = client_for(trader)
    client.post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto", "at": "2026-12-23T15:00"})
    call.refresh_from_db()
    assert call.auto_liquidate_at.isoformat() == "2026-12-23T07:00:00+00:00"
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert "The plan is placed by itself at 2026-12-23 15:00" in html

    client.post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto_deadline"})
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    # The deadline is a session's close: continuous trading has ended, the plan waits for the next.
    assert "The plan is placed by itself once HKEX trades after 2026-12-29 16:00" in html
    settings.AUTO_LIQUIDATION_ANY_TIME = True  # the demo's: placed at the time set, trading or not
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert "The plan is placed by itself at 2026-12-29 16:00" in html

    response = client.post(
        reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto", "at": "2031-01-01T10:00"}, follow=True
    )
    assert "from now to a year ahead" in response.content.decode()
    for offset in ("+16:00", "-16:00", "+23:59"):  # Python reads them; a database cannot store them
        response = client.post(
            reverse("liquidation:batch"),
            {"calls": [call.pk], "action": "auto", "at": f"2026-12-23T15:00{offset}"},
            follow=True,
        )
        assert response.status_code == 200
        assert "Enter a valid date/time." in response.content.decode()
    client.post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto", "at": "2026-12-23T15:00+09:00"})
    call.refresh_from_db()
    assert call.auto_liquidate_at.isoformat() == "2026-12-23T06:00:00+00:00"
    # Python reads a date alone as its midnight, and with a zone as the zone's hours: never guessed.
    for date_alone in ("2026-12-24", "20261224", "2026-12-24+08:00", "2026-12-24-08:00", "2026-12-24Z"):
        response = client.post(
            reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto", "at": date_alone}, follow=True
        )
        assert "Enter a time as well as the date." in response.content.decode()
        call.refresh_from_db()
        assert call.auto_liquidate_at.isoformat() == "2026-12-23T06:00:00+00:00"
    response = client.post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto_clear"}, follow=True)
    assert "Auto-liquidation cleared on 1 call." in response.content.decode()
    call.refresh_from_db()
    assert call.auto_liquidate_at is None


def test_the_preview_follows_the_quantities_typed(call, trader):
    client = client_for(trader)
    url = reverse("liquidation:preview", args=[call.pk])

    full = client.get(url, {"symbol": ["A.HK", "B.HK"], "quantity:A.HK": "1100", "quantity:B.HK": "1000"})
    part = client.get(url, {"symbol": ["A.HK"], "quantity:A.HK": "100"})
    odd = client.get(url, {"symbol": ["A.HK", "ZZ"], "quantity:A.HK": "150", "quantity:ZZ": "5"})
    bad = client.get(url, {"symbol": ["A.HK"], "quantity:A.HK": "\x00١٢"})
    grouped = client.get(url, {"symbol": ["A.HK"], "quantity:A.HK": "1,100"})
    misgrouped = client.get(url, {"symbol": ["A.HK"], "quantity:A.HK": "1,0,0"})

    assert full.context["covers"] is True
    assert full.context["projected"].call_amount == 0
    assert full.context["value"] == 498000
    assert part.context["covers"] is False
    assert part.context["projected"].call_amount > 0
    assert "whole lots of 100" in odd.content.decode()
    assert "whole number above 0" in bad.content.decode()
    plain = client.get(url, {"symbol": ["A.HK"], "quantity:A.HK": "1100"})
    assert grouped.context["projected"] == plain.context["projected"] != part.context["projected"]
    assert "whole number above 0" in misgrouped.content.decode()  # not read as 100


@pytest.mark.parametrize(
    ("price", "said"),
    [
        ("abc", "A.HK: the limit price is not a number."),
        ("-5", "A.HK: the limit price must be above 0."),
        ("372.41", "A.HK: 372.41 is not on the HKEX price grid"),
        ("9996", "A.HK: 9996 is above 9,995, the highest price HKEX quotes."),
        ("500", "A.HK: 500 is more than 10% from the last price"),
        ("1e2", "A.HK: 100 is more than 10% from the last price"),  # as digits, not "1E+2"
        ("372.40", None),
        ("", None),
    ],
)
def test_the_preview_says_what_is_wrong_with_a_limit_price_before_it_is_placed(call, trader, price, said):
    url = reverse("liquidation:preview", args=[call.pk])

    response = client_for(trader).get(url, {"symbol": ["A.HK"], "quantity:A.HK": "100", "price:A.HK": price})

    problems = [str(problem) for problem in response.context["problems"]]
    if said is None:
        assert problems == []
    else:
        assert any(problem.startswith(said) for problem in problems), problems
        assert said.split(": ", 1)[1] in response.content.decode()
    assert response.context["projected"] is not None  # the figures are still shown


def test_the_batch_preview_shows_each_calls_plan(call, trader, desk_trader):
    other = MarginCall.objects.get(account__account_no="T2")
    url = reverse("liquidation:batch-preview")

    page = client_for(trader).get(url, {"calls": [call.pk, other.pk], "only": "A.HK"})
    rows = {row["call"].account.account_no: row for row in page.context["rows"]}
    assert [(o.symbol, o.quantity) for o in rows["M100001"]["plan"].orders] == [("A.HK", 1500)]
    assert rows["M100001"]["value"] == 570000
    assert rows["T2"]["plan"].orders == []  # it holds no A.HK
    assert page.context["covering"] == 1
    assert not Order.objects.exists()  # a preview places nothing

    assert [r["call"].pk for r in client_for(desk_trader).get(url, {"calls": [call.pk, other.pk]}).context["rows"]] == [
        other.pk
    ]
    bad = client_for(trader).get(url, {"calls": ["x", "\x00"], "only": "\x00"})
    assert bad.status_code == 200
    assert "not allowed (U+0000)" in bad.content.decode()


def test_the_preview_offers_the_stocks_the_calls_hold_and_ticked_ones_join_the_typed_ones(call, trader):
    other = MarginCall.objects.get(account__account_no="T2")
    client = client_for(trader)
    url = reverse("liquidation:batch-preview")

    page = client.get(url, {"calls": [call.pk, other.pk]})
    held = [(stock["symbol"], stock["holders"], stock["chosen"]) for stock in page.context["held"]]
    assert held == [("A.HK", 1, False), ("B.HK", 1, False), ("S.HK", 1, False)]  # not C.HK: delisted
    assert 'name="only" value="A.HK" form="batch"' in page.content.decode()

    ticked = client.get(url, {"calls": [call.pk, other.pk], "only": ["", "S.HK", "a.hk"]})  # typed box empty
    assert {stock["symbol"] for stock in ticked.context["held"] if stock["chosen"]} == {"A.HK", "S.HK"}
    rows = {row["call"].account.account_no: row for row in ticked.context["rows"]}
    assert [order.symbol for order in rows["M100001"]["plan"].orders] == ["A.HK"]
    assert [order.symbol for order in rows["T2"]["plan"].orders] == ["S.HK"]


def test_a_batch_preview_with_a_stock_the_book_does_not_hold_shows_no_plan(call, trader):
    """The whole book's plan would pass for the stocks asked for: none is shown until they are corrected."""
    page = client_for(trader).get(reverse("liquidation:batch-preview"), {"calls": [call.pk], "only": "A.HK ZZZZ"})

    html = page.content.decode()
    assert "No such stock: ZZZZ" in html
    assert "No plan is shown until the stocks are corrected or cleared." in html
    assert "Sell" not in html
    assert 'data-testid="stock-chooser"' in html  # to correct them from


@pytest.mark.parametrize(("given", "kind"), [("7", "7"), ("007", "7"), (None, None)])
def test_an_order_stream_for_a_call_follows_it_by_its_number(monkeypatch, given, kind):
    import asyncio

    from django.test import RequestFactory

    from liquidation import views

    served = []

    async def serve(request, feed, wanted, changed_for, *, sees):
        served.append(wanted)

    monkeypatch.setattr(views.streams, "serve", serve)
    query = {} if given is None else {"call": given}

    asyncio.run(views.order_events(RequestFactory().get(reverse("liquidation:order-events"), query)))

    assert served == [kind]


def test_a_closed_call_s_form_sent_again_places_nothing(call, trader):
    """The page shows no plan once the call has closed; a form from before (or forged) is refused."""
    from risk import calls

    calls.end_call(call.pk, reason="deposit seen by phone", user=trader)

    response = client_for(trader).post(
        reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call), follow=True
    )

    assert "The call has closed: nothing was placed." in response.content.decode()
    assert not Order.objects.exists()


def test_another_user_s_form_key_places_nothing_and_says_so(call, trader):
    from tests.users import make_user

    other = make_user("other-trader", "RiskWarningFull")
    client_for(trader).post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    placed = list(Order.objects.values_list("pk", flat=True))

    response = client_for(other).post(
        reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call), follow=True
    )

    html = response.content.decode()
    assert "This form was already used by another user: nothing was placed." in html
    assert "orders placed" not in html
    assert list(Order.objects.values_list("pk", flat=True)) == placed


def test_the_orders_page_and_its_csv_show_the_average_fill_price(call, trader, settings, django_assert_max_num_queries):
    from datetime import UTC, datetime
    from decimal import Decimal

    from liquidation import services

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # filled here, by hand
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call, **{"A.HK": "300"}))
    order = Order.objects.get()
    at = datetime(2026, 12, 23, 2, 30, tzinfo=UTC)
    services.record_fill(order.pk, 100, Decimal("372.40"), at, "fill-1")
    services.record_fill(order.pk, 200, Decimal("372.60"), at, "fill-2")

    with django_assert_max_num_queries(16):
        html = client.get(reverse("liquidation:orders")).content.decode()
    rows = list(
        csv.reader(
            io.StringIO(client.get(reverse("liquidation:orders"), {"format": "csv"}).content.decode("utf-8-sig"))
        )
    )

    # (100 x 372.40 + 200 x 372.60) / 300 = 372.5333..., half up to a price's 6 places
    assert 'data-testid="average-fill-price">372.533333<' in html
    assert rows[1][rows[0].index("Average fill price")] == "372.533333"
    assert rows[1][rows[0].index("Limit price")] == f"{order.limit_price.normalize():f}"  # as quoted


def test_a_call_holding_a_currency_with_no_fx_rate_says_why_it_has_no_plan(call, trader):
    from book.models import Instrument
    from liquidation import services
    from risk import snapshots

    Instrument.objects.filter(symbol="A.HK").update(currency="EUR")  # no EUR rate in the book
    client = client_for(trader)
    reason = "No FX rate for EUR: nothing can be planned until a risk admin adds one."

    details = client.get(reverse("risk:call", args=[call.pk]))
    preview = client.get(reverse("liquidation:preview", args=[call.pk]), {"symbol": "A.HK", "quantity:A.HK": "100"})
    batch = client.get(reverse("liquidation:batch-preview"), {"calls": [call.pk]})
    [request] = services.liquidate_calls(user=trader, accounts=[call.account])

    assert details.status_code == preview.status_code == batch.status_code == 200
    assert reason in details.content.decode()
    assert 'data-testid="liquidate"' not in details.content.decode()
    assert reason in preview.content.decode()
    assert reason in batch.content.decode()
    assert request.refused == reason
    assert not Order.objects.exists()
    # The call's record is written all the same, the lines in EUR with no HKD value, and says so.
    assert snapshots.take([(call.pk, call.account_id)], kind="manual", key="no-fx", at=call.triggered_at) == 1
    book = call.snapshots.get(key="no-fx").book
    assert book["missing_fx"] == ["EUR"]
    assert book["fx"]["EUR"] is None
    [line] = [line for line in book["positions"] if line["symbol"] == "A.HK"]
    assert line["market_value"] is None
    snapshot = client.get(reverse("risk:snapshot", args=[call.pk, call.snapshots.get(key="no-fx").pk]))
    assert snapshot.status_code == 200


def test_a_batch_the_queue_could_not_take_says_so_and_the_sweep_starts_it(
    call, trader, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from liquidation import tasks
    from liquidation.models import Batch

    def unreachable(*args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_batch, "delay", unreachable)
    data = {"calls": [call.pk], "action": "liquidate", "key": "batch-key-away-1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(trader).post(reverse("liquidation:batch"), data, follow=True)

    assert response.status_code == 200
    assert "could not be started now: the task queue cannot be reached" in response.content.decode()
    batch = Batch.objects.get()
    assert (batch.status, batch.done) == ("running", 0)
    monkeypatch.undo()
    assert tasks.resume_batches() == 0  # not yet: a running batch is given two minutes to move

    Batch.objects.update(moved_at=timezone.now() - timedelta(seconds=tasks.BATCH_RESUME_SECONDS + 1))
    assert tasks.resume_batches() == 1

    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.orders) == ("done", 1, Order.objects.count())
    assert Order.objects.filter(source="batch").exists()
    assert tasks.resume_batches() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_batch_take_its_calls_in_turn_and_count_each_once(book, trader, monkeypatch):
    import threading
    import time
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from liquidation import services, tasks
    from liquidation.models import Batch

    calls = MarginCall.objects.filter(account__account_no__in=["M100001", "T2"])
    monkeypatch.setattr(tasks, "start_batch", lambda pk: True)  # started by hand below
    data = {"calls": [call.pk for call in calls], "action": "liquidate", "key": "batch-key-twice-1"}
    client_for(trader).post(reverse("liquidation:batch"), data)
    batch = Batch.objects.get()
    place, placing = services.liquidate_calls, threading.Event()

    def slow(**kwargs):  # the first run's chunk takes a while, its transaction open
        placed = place(**kwargs)
        if threading.current_thread().name == "first":
            placing.set()
            time.sleep(2)
        return placed

    monkeypatch.setattr(services, "liquidate_calls", slow)

    def run(task, *args):
        try:
            task(*args)
        finally:
            connection.close()

    first = threading.Thread(target=run, args=(tasks.run_batch, batch.pk), name="first")
    first.start()
    assert placing.wait(10)
    Batch.objects.filter(pk=batch.pk).update(moved_at=timezone.now() - timedelta(seconds=600))
    second = threading.Thread(target=run, args=(tasks.resume_batches,), name="second")
    second.start()
    first.join(20)
    second.join(20)

    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.total) == ("done", 2, 2)
    assert batch.orders == Order.objects.count() > 0


def test_a_liquidation_refused_on_a_calls_page_is_audited_with_why(call, trader):
    from console.models import AuditEntry

    client = client_for(trader)
    url = reverse("liquidation:call-liquidate", args=[call.pk])

    client.post(url, {"key": "page-key-refused-1", "symbol": ["A.HK"], "quantity:A.HK": "99999999"})
    client.post(url, {"key": "short", "symbol": ["A.HK"], "quantity:A.HK": "100"})

    entries = list(AuditEntry.objects.filter(action="liquidate").order_by("pk"))
    assert [entry.targets for entry in entries] == [[{"call": call.pk}]] * 2
    assert entries[0].outcome.startswith("refused: A.HK: 99999999 is more than the free quantity")
    assert entries[1].outcome == "refused: the form's key is out of date"
    assert not Order.objects.exists()


def test_a_cancel_says_what_became_of_each_order(call, trader, settings):
    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Confirming"
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    first, second = Order.objects.order_by("pk")
    Order.objects.filter(pk=first.pk).update(status=OrderStatus.FILLED, filled_quantity=first.quantity)

    filled = client.post(reverse("liquidation:cancel"), {"orders": [first.pk]}, follow=True).content.decode()
    sent = client.post(reverse("liquidation:cancel"), {"orders": [second.pk]}, follow=True).content.decode()

    assert "cancelled." not in filled  # not "0 orders cancelled."
    assert "1 order was no longer working: left as it is." in filled
    assert "1 cancel sent to the exchange: the order stays working until the exchange confirms." in sent
    assert "order cancelled." not in sent
    assert Order.objects.get(pk=second.pk).is_working


def test_orders_placed_or_an_auto_time_set_while_hkex_is_shut_say_when_it_resumes(call, trader, time_machine):
    from datetime import datetime

    from book.trading_calendar import HONG_KONG

    time_machine.move_to(datetime(2026, 12, 23, 5, 30, tzinfo=HONG_KONG))  # before the morning session
    client = client_for(trader)

    placed = client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call), follow=True)
    lunch = client.post(
        reverse("liquidation:batch"),
        {"calls": [call.pk], "action": "auto", "at": "2026-12-23T12:30"},
        follow=True,
    )

    assert (
        "HKEX is not in continuous trading now: the orders wait at the exchange until it resumes (2026-12-23 09:30)."
        in placed.content.decode()
    )
    assert (
        "2026-12-23 12:30 is outside HKEX continuous trading: the plan is placed when trading resumes"
        " (2026-12-23 13:00)." in lunch.content.decode()
    )
    time_machine.move_to(datetime(2026, 12, 23, 11, 0, tzinfo=HONG_KONG))  # trading: nothing to say
    Order.objects.update(status=OrderStatus.CANCELLED)
    again = client.post(
        reverse("liquidation:call-liquidate", args=[call.pk]),
        {**plan_form(call), "key": "form-key-654321"},
        follow=True,
    )
    assert "orders placed." in again.content.decode()
    assert "not in continuous trading" not in again.content.decode()


def test_an_old_last_price_is_marked_on_the_plan_and_said_on_placing_and_in_the_batch_preview(
    call, trader, time_machine
):
    from datetime import datetime, timedelta

    from book.models import Instrument
    from book.trading_calendar import HONG_KONG

    now = datetime(2026, 12, 23, 10, 30, tzinfo=HONG_KONG)  # continuous trading
    time_machine.move_to(now)
    Instrument.objects.filter(symbol="A.HK").update(price_time=now - timedelta(minutes=6))  # the rule set's 5: old
    Instrument.objects.filter(symbol="B.HK").update(price_time=now - timedelta(minutes=4))
    client = client_for(trader)

    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    rows = {symbol: html[html.index(f'<tr data-symbol="{symbol}">') :] for symbol in ("A.HK", "B.HK")}
    rows = {symbol: row[: row.index("</tr>")] for symbol, row in rows.items()}
    assert 'data-testid="old-price"' in rows["A.HK"]
    assert "price at 10:24" in rows["A.HK"]
    assert 'data-testid="old-price"' not in rows["B.HK"]

    preview = client.get(reverse("liquidation:batch-preview"), {"calls": [call.pk]}).content.decode()
    assert "The last price of A.HK (10:24) is older than the rule set allows automatic liquidation" in preview

    placed = client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call), follow=True)
    said = placed.content.decode()
    assert "2 orders placed." in said
    assert (
        "The last price of A.HK (10:24) is older than 5 minutes: check the market against the orders&#x27; limits."
        in said
    )

    # A stock on another market keeps its own hours: its price is never said to be old by HKEX's.
    Instrument.objects.filter(symbol="A.HK").update(currency="USD")
    html = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    row = html[html.index('<tr data-symbol="A.HK">') :]
    assert 'data-testid="old-price"' not in row[: row.index("</tr>")]
    Instrument.objects.filter(symbol="A.HK").update(currency="HKD")
    # From yesterday, the day is named. Outside trading every price is from the last session: nothing said.
    Instrument.objects.filter(symbol="A.HK").update(price_time=now - timedelta(days=1))
    assert "price at 2026-12-22 10:30" in client.get(reverse("risk:call", args=[call.pk])).content.decode()
    time_machine.move_to(datetime(2026, 12, 23, 12, 30, tzinfo=HONG_KONG))  # the lunch break
    assert 'data-testid="old-price"' not in client.get(reverse("risk:call", args=[call.pk])).content.decode()


def test_the_orders_page_names_each_orders_type_as_its_market_does(call, trader, settings):
    from decimal import Decimal

    from book.models import FxRate, Instrument
    from liquidation import services

    settings.LIQUIDATION_GATEWAY = "tests.liquidation.gateways.Holding"  # the orders stay working
    FxRate.objects.update_or_create(currency="USD", defaults={"rate": Decimal("7.8")})
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call, **{"A.HK": "300"}))
    Instrument.objects.filter(symbol="B.HK").update(currency="USD")  # a US stock: market orders allowed
    services.place(
        user=trader, account=call.account, wanted=[services.Wanted("B.HK", 500, order_type="market")], call=call
    )
    services.place(user=trader, account=call.account, wanted=[services.Wanted("B.HK", 500, Decimal("80"))], call=call)

    html = client.get(reverse("liquidation:orders")).content.decode()
    rows = list(
        csv.reader(
            io.StringIO(client.get(reverse("liquidation:orders"), {"format": "csv"}).content.decode("utf-8-sig"))
        )
    )
    details = client.get(reverse("risk:call", args=[call.pk])).content.decode()

    types = {order.pk: order for order in Order.objects.select_related("instrument")}
    assert sorted(
        html.count(f'data-testid="order-type">{label}<') for label in ("Enhanced limit", "Market", "Limit")
    ) == [
        1,
        1,
        1,
    ]
    by_order = {int(row[0]): row[rows[0].index("Type")] for row in rows[1:]}
    assert {by_order[pk]: (o.instrument.symbol, o.order_type) for pk, o in types.items()} == {
        "Enhanced limit": ("A.HK", "limit"),
        "Market": ("B.HK", "market"),
        "Limit": ("B.HK", "limit"),
    }
    assert '<span class="meta">Market</span>' in details  # no limit price: the call's orders say so


def test_only_these_stocks_takes_any_symbol_the_book_may_hold(call, trader):
    from book.models import Instrument

    Instrument.objects.filter(symbol="A.HK").update(symbol="-1")  # a symbol the admin may write
    url = reverse("liquidation:batch-preview")

    page = client_for(trader).get(url, {"calls": [call.pk], "only": "-1"})
    assert page.context["only"] == ["-1"]
    assert page.context["only_error"] == ""
    assert {order.symbol for order in page.context["rows"][0]["plan"].orders} == {"-1"}
    bad = client_for(trader).get(url, {"calls": [call.pk], "only": "B.HK\u200b"})  # an invisible character
    assert "Not a stock symbol: B.HK" in bad.context["only_error"]


def test_ending_a_call_cancels_its_working_orders_when_asked(call, trader, django_capture_on_commit_callbacks):
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    assert Order.objects.filter(call=call).working().count() == 2
    page = client.get(reverse("risk:call", args=[call.pk])).content.decode()
    assert 'data-testid="end-cancels-orders"' in page

    with django_capture_on_commit_callbacks(execute=True):
        ended = client.post(
            reverse("risk:call-end", args=[call.pk]),
            {"reason": "deposit seen by the bank", "cancel_orders": "on"},
            follow=True,
        )

    assert "Call ended." in ended.content.decode()
    assert "2 orders cancelled." in ended.content.decode()
    assert not Order.objects.filter(call=call).working().exists()
    from console.models import AuditEntry

    entry = AuditEntry.objects.filter(action="cancel_order").get()
    assert entry.user == trader


def test_ending_a_call_without_cancelling_leaves_its_orders_working(call, trader, django_capture_on_commit_callbacks):
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))

    with django_capture_on_commit_callbacks(execute=True):
        ended = client.post(reverse("risk:call-end", args=[call.pk]), {"reason": "client sells anyway"}, follow=True)

    assert "Call ended." in ended.content.decode()
    assert "cancelled" not in ended.content.decode()
    assert Order.objects.filter(call=call).working().count() == 2


def test_a_debit_calls_plan_says_only_a_deposit_meets_it(book, trader, import_book):
    import_book({"accounts": [{"account_no": "D1", "desk": "HK1", "cash": {"HKD": "-1000"}}]})
    call = MarginCall.objects.get(account__account_no="D1", closed_at__isnull=True)
    assert call.call_type == "debit"

    html = client_for(trader).get(reverse("risk:call", args=[call.pk])).content.decode()

    assert "A debit call has no position to sell or buy back: only a deposit meets it." in html
    assert 'data-testid="liquidate-form"' not in html
    assert "Nothing can be sold or bought back" not in html


def test_automatic_orders_are_found_and_exported_as_the_systems(call, trader):
    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    first, second = Order.objects.order_by("pk")
    Order.objects.filter(pk=first.pk).update(created_by=None, source="auto")  # as auto-liquidation places it

    by_system = client.get(reverse("liquidation:orders"), {"by": "system"}).context["rows"]
    by_trader = client.get(reverse("liquidation:orders"), {"by": "trader"}).context["rows"]
    in_chinese = client.get(reverse("liquidation:orders"), {"by": "系統"}).context["rows"]
    header, *rows = csv.reader(
        io.StringIO(client.get(reverse("liquidation:orders"), {"format": "csv"}).content.decode("utf-8-sig"))
    )

    assert [o.pk for o in by_system] == [first.pk]
    assert [o.pk for o in by_trader] == [second.pk]
    assert [o.pk for o in in_chinese] == [first.pk]
    by_order = {int(row[0]): row for row in rows}
    assert by_order[first.pk][header.index("By")] == "system"
    assert by_order[second.pk][header.index("By")] == "trader"
    assert by_order[first.pk][header.index("Call")] == str(call.pk)
    # In Chinese the column is the margin call's, not an option's right (認購).
    chinese = client.get(reverse("liquidation:orders"), {"format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert next(csv.reader(io.StringIO(chinese.content.decode("utf-8-sig"))))[-1] == "追收單"


def test_of_two_runs_of_one_batch_one_failing_and_one_finishing_the_batch_is_done(book, trader, monkeypatch):
    """A resumed run and a late first one: if one fails on a chunk that the other then does, every call is
    done and the batch says so; a run that fails after the other finished does not say it failed."""
    from liquidation import tasks
    from liquidation.models import Batch, BatchStatus

    monkeypatch.setattr(tasks, "start_batch", lambda pk: True)
    call = MarginCall.objects.get(account__account_no="M100001")
    client_for(trader).post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "liquidate", "key": "k" * 20})
    batch = Batch.objects.get()
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, error="OperationalError: lost")  # the other

    tasks._run_batch(batch)  # this one does every call

    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.total, batch.error) == ("done", 1, 1, "")

    def fails(running):
        raise RuntimeError("lost")

    monkeypatch.setattr(tasks, "_run_chunk", fails)
    tasks._run_batch(batch)  # a late run fails after it finished
    batch.refresh_from_db()
    assert batch.status == "done"


def test_an_auto_time_after_the_deadline_says_what_comes_first(call, trader):
    """A time set after the call's deadline: the call stays open past it until then, or, where its rule
    set liquidates past the deadline, the plan goes at the deadline. Both are said when set, and on the
    call's page; a time before the deadline says neither."""
    from django.utils import timezone

    from risk.models import RuleSet

    client = client_for(trader)
    deadline = timezone.localtime(call.deadline).strftime("%Y-%m-%d %H:%M")
    after = (timezone.localtime(call.deadline) + timezone.timedelta(days=1)).replace(hour=10, minute=0)
    before = timezone.localtime(call.triggered_at).replace(hour=14, minute=0)

    def set_at(moment):
        data = {"calls": [call.pk], "action": "auto", "at": moment.strftime("%Y-%m-%dT%H:%M")}
        said = client.post(reverse("liquidation:batch"), data, follow=True).content.decode()
        page = client.get(reverse("risk:call", args=[call.pk])).content.decode()
        return said, page

    said, page = set_at(after)
    at = after.strftime("%Y-%m-%d %H:%M")
    assert f"{at} is after the deadline of 1 call (M100001): it stays open past its deadline until then" in said
    assert f"The time set is after the call's deadline ({deadline}): the call stays open past its" in page

    RuleSet.objects.update_or_create(account_kind="margin", defaults={"auto_liquidate_past_deadline": True})
    said, page = set_at(after)
    assert f"1 call&#x27;s deadline comes before {at} (M100001): its rule set liquidates calls past" in said
    assert "liquidates calls past their deadline: the plan is placed once the deadline has passed, at" in page
    nine_thirty = after.replace(hour=9, minute=30).strftime("%Y-%m-%d %H:%M")  # the morning after the close
    assert f"the plan is placed once the deadline has passed, at {nine_thirty}." in page

    # The deadline itself, or a time that evening: both are acted on at the next morning's open.
    for same in (timezone.localtime(call.deadline), timezone.localtime(call.deadline).replace(hour=18)):
        said, page = set_at(same)
        assert "Auto-liquidation set on 1 call." in said
        assert "deadline comes before" not in said
        assert 'data-testid="auto-after-deadline"' not in page
    said = client.post(reverse("liquidation:batch"), {"calls": [call.pk], "action": "auto_deadline"}, follow=True)
    assert "deadline comes before" not in said.content.decode()

    said, page = set_at(before)
    assert "Auto-liquidation set on 1 call." in said
    assert "deadline" not in said.split("Auto-liquidation set on 1 call.")[1].split("</ul>")[0]
    assert 'data-testid="auto-after-deadline"' not in page


def test_the_orders_day_is_a_hong_kong_day(call, trader):
    from tests.lists import check_days_are_hong_kong_days

    client = client_for(trader)
    client.post(reverse("liquidation:call-liquidate", args=[call.pk]), plan_form(call))
    early, late = Order.objects.order_by("pk")[:2]

    check_days_are_hong_kong_days(client, reverse("liquidation:orders"), early, late, "created_at")


def test_a_batch_acts_with_its_trader_s_rights_as_they_are_at_each_chunk(
    call, trader, monkeypatch, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    from liquidation import services, tasks

    other = MarginCall.objects.get(account__account_no="T2")
    monkeypatch.setattr(tasks, "BATCH_CHUNK", 1)
    liquidate_calls = services.liquidate_calls

    def then_desks_taken_away(**kwargs):
        done = liquidate_calls(**kwargs)
        trader.user_permissions.remove(Permission.objects.get(codename="view_desk"))  # after the first chunk
        return done

    monkeypatch.setattr(services, "liquidate_calls", then_desks_taken_away)
    data = {"calls": [call.pk, other.pk], "action": "liquidate", "key": "batch-key-654321", "only": "a.hk s.hk"}
    with django_capture_on_commit_callbacks(execute=True):
        client_for(trader).post(reverse("liquidation:batch"), data)

    [first, second] = Batch.objects.get().items.order_by("pk")
    assert first.outcome == "placed"
    assert second.outcome != "placed"  # its desk was no longer the trader's
    assert list(Order.objects.values_list("account_id", flat=True)) == [first.call.account_id]
