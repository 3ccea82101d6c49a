"""Console pages: who may see them, and what they show."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.users import client_for, confirmed, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)


PAGES = [reverse("risk:home"), reverse("risk:home") + "?q=chan", reverse("risk:account", args=["M100001"])]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_login(book, url):
    response = Client().get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("url", PAGES)
def test_read_only_users_see_pages_and_cannot_post(viewer, url):
    client = client_for(viewer)

    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_a_user_without_console_permission_is_refused(book, url):
    assert client_for(make_user("nobody")).get(url).status_code == 403


def test_another_desks_account_is_not_found(desk_trader):
    client = client_for(desk_trader)

    assert client.get(reverse("risk:account", args=["M100001"])).status_code == 404  # desk HK1
    assert client.get(reverse("risk:account", args=["M100002"])).status_code == 200  # desk HK2
    # in other capitals: the account's own page, for an account the user sees, and only then
    assert client.get(reverse("risk:account", args=["m100002"]))["Location"] == "/accounts/M100002/"
    assert client.get(reverse("risk:account", args=["m100001"])).status_code == 404
    response = client.get(reverse("risk:home") + "?q=M1000")
    assert [a.account_no for a in response.context["matches"]] == ["M100002"]


def test_account_page_shows_the_stored_figures(trader, django_assert_max_num_queries):
    client = client_for(trader)

    with django_assert_max_num_queries(13):
        response = client.get(reverse("risk:account", args=["M100001"]))

    html = response.content.decode()
    assert 'data-figure="call_amount" class="key">135,400.00<' in html
    assert 'data-figure="nav_ratio" class="">10.45%<' in html
    assert 'data-figure="equity" class="">92,800.00<' in html
    assert "Force call" in html
    assert f'href="/calls/{response.context["open_call"].pk}/" data-testid="open-call"' in html
    assert 'href="/history/?account=M100001"' in html
    assert [line.hkd_value for line in response.context["cash"]] == [-600000, 7800]
    assert [str(line.mm) for _instrument, line, _quantity in response.context["positions"]] == [
        "190000.00",
        "32000.00",
        "5000.00",
    ]


def test_searching_an_exact_account_number_opens_it(trader):
    response = client_for(trader).get(reverse("risk:home"), {"q": "m100001"})

    assert response.status_code == 302
    assert response.url == reverse("risk:account", args=["M100001"])


def test_an_unknown_account_is_a_404(trader):
    assert client_for(trader).get(reverse("risk:account", args=["NOPE"])).status_code == 404


def test_home_counts_calls_by_type(trader):
    response = client_for(trader).get(reverse("risk:home"))

    counts = {row["type"]: row["count"] for row in response.context["summary"]}
    assert counts == {"debit": 1, "force_call": 1, "margin_call": 0, "excess_financing": 0}
    assert response.context["total_call_amount"] == 135400 + 5030


def test_home_counts_open_calls_by_desk(trader, desk_trader, django_assert_max_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from risk.models import CallStatus, MarginCall

    now = timezone.now()
    MarginCall.objects.filter(account__account_no="I200001").update(deadline=now - timedelta(hours=1))
    MarginCall.objects.filter(account__account_no="M100001").update(triggered_at=now - timedelta(days=400))
    client = client_for(trader)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("risk:home"))

    rows = {row["desk"].code: row for row in response.context["desks"]}
    assert list(rows) == ["HK1", "HK2"]
    assert {name: rows["HK1"][name] for name in ("margin", "intraday", "exception", "overdue", "long")} == {
        "margin": 1,
        "intraday": 1,
        "exception": 0,
        "overdue": 1,
        "long": 1,
    }
    assert rows["HK1"]["amount"] == 135400 + 5030
    # An exception is counted apart from its list, whose link opens the Active tab.
    MarginCall.objects.filter(account__account_no="I200001").update(status=CallStatus.EXCEPTION)
    rows = {row["desk"].code: row for row in client.get(reverse("risk:home")).context["desks"]}
    assert (rows["HK1"]["intraday"], rows["HK1"]["exception"], rows["HK1"]["overdue"]) == (0, 1, 1)
    assert rows["HK2"]["margin"] == rows["HK2"]["intraday"] == 0
    assert rows["HK2"]["amount"] is None
    assert response.context["desk_totals"]["amount"] == 135400 + 5030
    html = response.content.decode()
    assert not response.context["totals_differ"]
    assert "The two totals differ" not in html
    assert f'href="{reverse("risk:warning")}?desk=HK1">1<' in html
    assert f'href="{reverse("risk:intraday")}?desk=HK1">1<' in html
    # A user granted one desk sees that desk's row only.
    response = client_for(desk_trader).get(reverse("risk:home"))
    assert [row["desk"].code for row in response.context["desks"]] == ["HK2"]
    assert "?desk=HK1" not in response.content.decode()
    # and the book's tiles count that desk's accounts only: M100002, not called
    assert response.context["total_accounts"] == 1
    assert {row["type"]: row["count"] for row in response.context["summary"]} == dict.fromkeys(
        ["debit", "force_call", "margin_call", "excess_financing"], 0
    )
    assert response.context["total_call_amount"] is None


def test_pages_are_translated(trader):
    client = client_for(trader)
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})

    html = client.get(reverse("risk:account", args=["M100001"])).content.decode()

    assert "應追繳保證金" in html
    assert "強平追保" in html
    assert "淨資產比率" in html

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = client.get(reverse("risk:account", args=["M100001"])).content.decode()
    assert "应追缴保证金" in html
    assert "强平追保" in html


def test_groups_carry_the_console_permissions(db):
    full = set(Group.objects.get(name="RiskWarningFull").permissions.values_list("codename", flat=True))
    read_only = set(Group.objects.get(name="RiskWarningReadOnly").permissions.values_list("codename", flat=True))

    assert full == {"view_console", "act_console", "liquidate", "cancel_order", "send_notice", "recover"}
    assert read_only == {"view_console"}  # never an action


def test_admin_refuses_a_margin_rate_outside_0_to_1(book):
    admin = User.objects.create_superuser("root", password="pw")
    client = client_for(admin)
    from book.models import Instrument

    instrument = Instrument.objects.get(symbol="A.HK")
    url = reverse("admin:book_instrument_change", args=[instrument.pk])
    form = {
        "symbol": "A.HK",
        "name": "Stock A",
        "kind": "stock",
        "currency": "HKD",
        "lot_size": 100,
        "multiplier": 1,
        "status": "normal",
        "price": "380",
        "im_rate": "0.3",
        "mm_rate": "1.25",
        "fm_rate": "0.2",
    }

    response = client.post(url, form)

    assert response.status_code == 200
    assert "between 0 and 1; 1.25 is outside it" in response.content.decode()
    instrument.refresh_from_db()
    assert str(instrument.mm_rate) == "0.250000"


RULE_SET_FORM = {
    "account_kind": "margin",
    "call_coefficient": "2",
    "deadline_sessions": 3,
    "reopen_sessions": 1,
    "deadline_move_sessions": 10,
    "long_outstanding_days": 90,
    "snapshot_time": "16:30",
    "notice_time": "17:00",
    "recovery_sessions": 1,
    "trigger_channels": "email,sms",
    "force_call_channels": "email,sms,voice",
    "daily_channels": "email",
    "liquidation_target": "mm",
    "liquidation_buffer": "0",
    "liquidation_cost_rate": "0.002",
    "price_band": "0.02",
    "price_deviation_limit": "0.1",
    "max_price_age_minutes": 5,
}


def test_a_rule_sets_price_limit_below_its_band_is_refused(book):
    from risk.models import RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])

    response = client_for(admin).post(url, {**RULE_SET_FORM, "price_band": "0.05", "price_deviation_limit": "0.03"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["price_deviation_limit"] == [
        "At least the order price band (0.05): the default limit itself would be refused."
    ]
    rule_set.refresh_from_db()
    assert rule_set.price_deviation_limit == Decimal("0.10")


def test_a_rule_sets_unknown_channel_is_named_with_its_invisible_character_shown(book):
    from risk.models import RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    url = reverse("admin:risk_ruleset_change", args=[RuleSet.objects.get(account_kind="margin").pk])

    response = client_for(admin).post(url, {**RULE_SET_FORM, "trigger_channels": "email,\u200bsms"})

    assert response.context["adminform"].form.errors["trigger_channels"] == [
        "Unknown channel “\\u200bsms”: use email, sms or voice, separated by commas."
    ]


def test_admin_rule_set_change_recomputes_that_kind(book):
    from risk.models import AccountRisk, RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])

    response = confirmed(client_for(admin), url, RULE_SET_FORM)  # M100001's call owes more: shown first
    assert response.status_code == 302, response.context["adminform"].form.errors

    # MM 227,000 * 2 - equity 92,800 + interest 1,200
    assert AccountRisk.objects.get(account__account_no="M100001").margin_shortfall == 362400


def test_a_call_a_rule_set_change_opens_and_its_undoing_closes_has_the_admins_cause(book):
    from risk.models import MarginCall, RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    url = reverse("admin:risk_ruleset_change", args=[RuleSet.objects.get(account_kind="margin").pk])
    assert not MarginCall.objects.filter(account__account_no="M100002").exists()

    assert confirmed(client_for(admin), url, {**RULE_SET_FORM, "call_coefficient": "10"}).status_code == 302
    call = MarginCall.objects.get(account__account_no="M100002")
    assert confirmed(client_for(admin), url, {**RULE_SET_FORM, "call_coefficient": "1"}).status_code == 302

    call.refresh_from_db()
    assert (call.status, call.close_cause) == ("closed", "admin")


def test_a_rule_set_change_that_would_open_calls_is_shown_first_and_saved_only_when_confirmed(book):
    from console.models import AuditEntry
    from notices.models import Notice
    from risk.models import RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    client = client_for(admin)
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])
    from risk.models import MarginCall

    calls, notices, audited = MarginCall.objects.count(), Notice.objects.count(), AuditEntry.objects.count()

    shown = client.post(url, {**RULE_SET_FORM, "call_coefficient": "10"})

    assert shown.status_code == 200
    assert shown.context["console_impact"]["lines"] == [
        "open 1 margin call (M100002); its client is sent the trigger notice",
        "change the amount of 1 open call (M100001 135,400.00 → 2,178,400.00)",
    ]
    html = shown.content.decode()
    assert 'data-testid="admin-impact"' in html
    assert 'name="_confirm_impact"' in html
    assert "Not saved yet" in html
    rule_set.refresh_from_db()
    assert rule_set.call_coefficient == 1  # nothing saved, nothing opened, sent or audited
    assert (MarginCall.objects.count(), Notice.objects.count(), AuditEntry.objects.count()) == (calls, notices, audited)
    token = shown.context["console_impact"]["token"]
    other = {**RULE_SET_FORM, "call_coefficient": "9", "_confirm_impact": token}  # another change: shown again
    assert client.post(url, other).status_code == 200
    assert RuleSet.objects.get(pk=rule_set.pk).call_coefficient == 1

    saved = client.post(url, {**RULE_SET_FORM, "call_coefficient": "10", "_confirm_impact": token})

    assert saved.status_code == 302
    assert MarginCall.objects.filter(account__account_no="M100002", closed_at__isnull=True).exists()
    assert RuleSet.objects.get(pk=rule_set.pk).call_coefficient == 10


def test_an_admin_change_that_moves_no_call_is_saved_at_once_with_its_message(book):
    from risk.models import RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    client = client_for(admin)
    url = reverse("admin:risk_ruleset_change", args=[RuleSet.objects.get(account_kind="margin").pk])

    saved = client.post(url, {**RULE_SET_FORM, "call_coefficient": "1", "deadline_sessions": 4}, follow=True)

    assert saved.redirect_chain
    assert RuleSet.objects.get(account_kind="margin").deadline_sessions == 4
    assert "was changed successfully" in saved.content.decode()


def test_admin_refuses_more_long_outstanding_days_than_a_date_goes_back(book, trader):
    from risk.models import RuleSet

    admin = User.objects.create_superuser("root", password="pw")
    rule_set = RuleSet.objects.get(account_kind="margin")
    url = reverse("admin:risk_ruleset_change", args=[rule_set.pk])

    response = client_for(admin).post(url, {**RULE_SET_FORM, "long_outstanding_days": 1_000_000})

    assert response.status_code == 200
    assert "less than or equal to 3650" in str(response.context["adminform"].form.errors["long_outstanding_days"])
    rule_set.refresh_from_db()
    assert rule_set.long_outstanding_days == 90
    response = confirmed(client_for(admin), url, {**RULE_SET_FORM, "long_outstanding_days": 3650})
    assert response.status_code == 302
    assert client_for(trader).get(reverse("risk:home"), {"long": "on"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("M1\u0000", "Contains a character that is not allowed (U+0000)."),
        ("\u0007", "Contains a character that is not allowed (U+0007)."),
        ("M" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_a_bad_search_is_named_next_to_the_box(trader, query, error):
    response = client_for(trader).get(reverse("risk:home"), {"q": query})

    assert response.status_code == 200
    assert response.context["matches"] is None
    html = response.content.decode()
    assert 'class="error filter-errors"' in html
    assert error in html


def test_a_nul_in_the_raw_query_string_is_a_form_error(trader):
    response = client_for(trader).get(reverse("risk:home") + "?q=%00")

    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize("account_no", ["\u0000", "M10\u00000001", "\u001b[31m", "M" * 33])
def test_an_account_number_that_cannot_be_one_is_a_404(trader, account_no):
    response = client_for(trader).get(reverse("risk:account", args=[account_no]))

    assert response.status_code == 404


def test_an_escaped_nul_in_the_account_path_is_a_404(trader):
    assert client_for(trader).get("/accounts/%00/").status_code == 404


def test_a_bad_search_is_named_in_the_users_language(trader):
    client = client_for(trader)
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})

    html = client.get(reverse("risk:home"), {"q": "M1\u0000"}).content.decode()

    assert "含有不允許的字元（U+0000）。" in html


def test_a_search_with_more_matches_than_it_shows_says_so(trader, import_book):
    import_book({"accounts": [{"account_no": f"S{n:03d}", "name": "Sam", "desk": "HK1"} for n in range(51)]})
    client = client_for(trader)

    many = client.get(reverse("risk:home"), {"q": "S0"})
    fifty = client.get(reverse("risk:home"), {"q": "S00"})

    assert len(many.context["matches"]) == 50
    assert "More than 50 accounts found for “S0”" in many.content.decode()
    assert "type more to narrow the search" in many.content.decode()
    assert "10 accounts found for “S00”" in fifty.content.decode()
    assert "type more to narrow" not in fifty.content.decode()


def test_an_accounts_history_link_lists_that_account_only(trader, import_book):
    from risk.models import MarginCall
    from tests.books import one_stock_book

    import_book(one_stock_book(account_no="M1000010", desk="HK1"))  # its number starts like M100001's
    MarginCall.objects.update(closed_at="2026-12-23T03:00:00Z", status="closed", close_cause="deposit")
    client = client_for(trader)

    searched = client.get(reverse("risk:history"), {"q": "M100001"})
    response = client.get(reverse("risk:history"), {"account": "M100001"})

    assert sorted(call.account.account_no for call in searched.context["rows"]) == ["M100001", "M1000010"]
    assert [call.account.account_no for call in response.context["rows"]] == ["M100001"]
    assert 'data-testid="account-filter"' in response.content.decode()


def test_home_says_why_its_tiles_total_differs_from_its_open_calls(trader):
    from book.models import Account, AccountKind
    from risk.models import AccountRisk

    # A cash account in debit: its figures show a call, and no list holds one.
    Account.objects.filter(account_no="M100002").update(kind=AccountKind.CASH)
    AccountRisk.objects.filter(account__account_no="M100002").update(call_type="debit", call_amount=900)

    response = client_for(trader).get(reverse("risk:home"))

    assert response.context["total_call_amount"] == 135400 + 5030 + 900
    assert response.context["desk_totals"]["amount"] == 135400 + 5030
    assert response.context["totals_differ"]
    assert "The two totals differ" in response.content.decode()


def test_an_account_whose_figures_could_not_follow_its_book_says_so_until_they_do(trader):
    from book.models import Account, Instrument
    from risk import services
    from risk.models import AccountRisk

    account = Account.objects.get(account_no="M100001")
    instrument = account.positions.select_related("instrument").first().instrument
    Instrument.objects.filter(pk=instrument.pk).update(currency="EUR")  # no EUR rate in the book
    client = client_for(trader)

    assert services.recompute_accounts(account_ids=[account.pk]).failed
    assert AccountRisk.objects.get(account=account).figures_problem == "no FX rate for currency 'EUR'"
    assert 'data-testid="figures-problem"' in client.get(reverse("risk:account", args=["M100001"])).content.decode()
    Instrument.objects.filter(pk=instrument.pk).update(currency=instrument.currency)
    assert not services.recompute_accounts(account_ids=[account.pk]).failed
    assert AccountRisk.objects.get(account=account).figures_problem == ""
    html = client.get(reverse("risk:account", args=["M100001"])).content.decode()
    assert 'data-testid="figures-problem"' not in html
