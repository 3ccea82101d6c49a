"""Times from outside are checked before they are stored: a live feed never stores a future time, a
book's as_of stays within its window, a deadline moves a bounded number of sessions, and the
database refuses an impossible time whatever the path. After each refusal the pages, the admin and
the recompute keep working."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from book import checks
from book.book_format import BookInvalid
from book.models import ApiToken, FxRate, Instrument
from book.times import EARLIEST, END, book_window, feed_floor
from book.trading_calendar import HONG_KONG, call_deadline, sessions_after
from risk import services
from risk.models import AccountRisk, MarginCall, RuleSet
from tests.books import one_stock_book
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 23, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # the tests' clock


@pytest.fixture
def book(import_book, worked_book):
    import_book(worked_book)
    import_book(one_stock_book())  # T1 on S.HK, a margin call triggered 2026-12-23 10:00


def post_ticks(items, token):
    return (
        Client()
        .post(
            reverse("book:api-ticks"),
            json.dumps(items),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        .json()
    )


def the_pages_admin_and_recompute_still_work():
    trader = make_user("checker", "RiskWarningFull")
    client = client_for(trader)
    call = MarginCall.objects.get(account__account_no="T1")
    for url in (reverse("risk:warning"), reverse("risk:call", args=[call.pk]), reverse("risk:account", args=["T1"])):
        assert client.get(url).status_code == 200, url
    root = User.objects.create_superuser("root", password="pw")
    admin = client_for(root)
    for name in (
        "admin:book_instrument_changelist",
        "admin:book_fxrate_changelist",
        "admin:risk_margincall_changelist",
    ):
        assert admin.get(reverse(name)).status_code == 200, name
    assert not services.recompute_accounts().failed
    call_command("recompute", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("9999-12-31T23:59:59-12:00", "time is out of range"),  # no UTC time at all
        ("9999-12-30T23:59:59-12:00", "time is 2,912,086 days ahead"),  # ahead by thousands of years
        (
            "2030-01-02T10:00:00+08:00",
            "time is 1,106 days ahead of the server's clock (2026-12-23T03:30:00+00:00); "
            "a feed may be at most 300 s ahead",
        ),
        ("2100-06-01T10:00:00+08:00", "time is 26,823 days ahead"),
        ("2026-12-23T11:40:00+08:00", "time is 600 s ahead"),
        # Just past the allowance, in the allowance's unit: not "5 min ahead … at most 300 s".
        ("2026-12-23T11:35:02+08:00", "time is 302 s ahead of the server's clock"),
        ("2019-12-31T10:00:00+08:00", "time is before 2020-01-01"),
    ],
)
def test_a_feed_time_in_the_future_or_before_the_floor_is_refused_alone(book, token, time, reason):
    answer = post_ticks(
        [
            {"symbol": "S.HK", "price": "50", "time": time},  # a drop that would force a call
            {"symbol": "A.HK", "price": "381", "time": "2026-12-23T11:20:00+08:00"},
        ],
        token,
    )

    refused, applied = answer["results"]
    assert refused["status"] == "refused"
    assert refused["reason"].startswith(reason), refused["reason"]
    assert applied["status"] == "applied"
    s = Instrument.objects.get(symbol="S.HK")
    assert (s.price, s.price_time) == (Decimal("100"), dt.datetime.fromisoformat("2026-12-23T10:00:00+08:00"))
    assert not MarginCall.objects.filter(triggered_at__gt=timezone.now()).exists()
    # The price is not locked: the next real tick goes in.
    assert post_ticks([{"symbol": "S.HK", "price": "99", "time": "2026-12-23T11:25:00+08:00"}], token)["applied"] == 1
    the_pages_admin_and_recompute_still_work()


def test_a_feed_a_little_ahead_of_this_clock_is_taken_as_now(book, token):
    ahead = (timezone.now() + dt.timedelta(seconds=120)).isoformat()

    assert post_ticks([{"symbol": "S.HK", "price": "90", "time": ahead}], token)["applied"] == 1


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("0001-01-01T00:00:00", "as_of: is out of range"),
        ("1999-12-31T10:00:00+08:00", "as_of: must be within 730 days of now"),
        ("2024-12-22T10:00:00+08:00", "as_of: must be within 730 days of now"),
        ("2029-01-01T10:00:00+08:00", "as_of: must be within 730 days of now"),
        ("9999-12-31T23:59:59-12:00", "as_of: is out of range"),
    ],
)
def test_a_book_as_of_outside_its_window_is_refused_whole(book, import_book, as_of, message):
    before = list(FxRate.objects.values()), list(Instrument.objects.values()), list(AccountRisk.objects.values())
    changed = one_stock_book(as_of=as_of, price="50") | {"fx_rates": {"USD": "7.9"}}

    with pytest.raises(BookInvalid) as refused:
        import_book(changed)

    assert refused.value.errors[0].startswith(message), refused.value.errors
    assert (list(FxRate.objects.values()), list(Instrument.objects.values()), list(AccountRisk.objects.values())) == (
        before
    )
    # A later import touching USD, and the FX admin, work.
    import_book({"as_of": "2026-12-23T11:00:00+08:00", "fx_rates": {"USD": "7.81"}})
    assert FxRate.objects.get(currency="USD").rate == Decimal("7.81")
    the_pages_admin_and_recompute_still_work()


@pytest.mark.parametrize("as_of", ["2024-12-24T10:00:00+08:00", "2028-12-22T10:00:00+08:00"])
def test_a_book_may_replay_the_past_or_try_the_future_within_its_window(book, import_book, as_of):
    import_book(one_stock_book(as_of=as_of, account_no="W1"))

    assert MarginCall.objects.get(account__account_no="W1").triggered_at == dt.datetime.fromisoformat(as_of)


def test_import_book_names_an_as_of_outside_its_window(book, tmp_path):
    path = tmp_path / "book.json"
    path.write_text(json.dumps(one_stock_book(as_of="2030-01-01T10:00:00+08:00")))
    errors = io.StringIO()

    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_book", str(path), stderr=errors)

    assert errors.getvalue().startswith("as_of: must be within 730 days of now, from 2024-12-23T11:30:")


def move(client, call, deadline):
    return client.post(
        reverse("risk:call-deadline", args=[call.pk]),
        {
            "deadline": deadline,
            "reason": "agreed",
            "shown": int(MarginCall.objects.get(pk=call.pk).deadline.timestamp()),
        },
        follow=True,
    )


def test_a_deadline_moves_at_most_the_rule_sets_sessions_past_the_original(book):
    call = MarginCall.objects.get(account__account_no="T1")
    assert call.deadline == dt.datetime.fromisoformat("2026-12-29T16:00:00+08:00")
    client = client_for(make_user("trader", "RiskWarningFull"))

    # Ten sessions past 29 Dec: 30, 31 (a half day), 4 to 8, 11, 12, 13 Jan (1 Jan is a holiday).
    latest = sessions_after(call.deadline, 10)
    assert latest == dt.datetime.fromisoformat("2027-01-13T16:00:00+08:00")
    too_far = move(client, call, "2027-01-14T16:00")
    assert "at most 10 trading sessions past the original (2026-12-29 16:00): no later than 2027-01-13 16:00" in (
        too_far.content.decode()
    )
    assert move(client, call, "2099-01-13T16:00").status_code == 200
    call.refresh_from_db()
    assert call.deadline == dt.datetime.fromisoformat("2026-12-29T16:00:00+08:00")

    move(client, call, "2027-01-13T16:00")
    call.refresh_from_db()
    assert call.deadline == latest
    # A second move is measured from the original deadline, not from the moved one.
    move(client, call, "2027-01-15T16:00")
    call.refresh_from_db()
    assert call.deadline == latest

    RuleSet.objects.filter(account_kind="margin").update(deadline_move_sessions=12)
    move(client, call, "2027-01-15T16:00")
    call.refresh_from_db()
    assert call.deadline == dt.datetime.fromisoformat("2027-01-15T16:00:00+08:00")


@pytest.mark.parametrize(
    "moment", [dt.datetime(1999, 12, 31, 23, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)]
)
def test_the_database_refuses_an_impossible_time_on_any_path(book, moment):
    call = MarginCall.objects.get(account__account_no="T1")
    for queryset, field in (
        (Instrument.objects.filter(symbol="S.HK"), "price_time"),
        (FxRate.objects.filter(currency="USD"), "as_of"),
        (MarginCall.objects.filter(pk=call.pk), "deadline"),
        (MarginCall.objects.filter(pk=call.pk), "triggered_at"),
        (MarginCall.objects.filter(pk=call.pk), "auto_liquidate_at"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            queryset.update(**{field: moment})
    instrument = Instrument.objects.get(symbol="S.HK")
    instrument.price_time = moment
    with pytest.raises(ValidationError, match="is not a time this system keeps") as refused:
        instrument.full_clean()
    assert "from 2000-01-01 00:00 UTC to before 2100-01-01 00:00 UTC" in str(refused.value)


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        # typed in Hong Kong: as typed, and in UTC as the range is said
        (dt.datetime(2000, 1, 1, tzinfo=HONG_KONG), "2000-01-01 00:00 (Asia/Hong_Kong), 1999-12-31 16:00 UTC"),
        # before year 1 in UTC: as typed alone (not with the zone's old local mean time offset, +07:36:42)
        (dt.datetime(1, 1, 1, tzinfo=HONG_KONG), "0001-01-01 00:00 (Asia/Hong_Kong)"),
        (dt.datetime(1, 1, 1, 10, tzinfo=HONG_KONG), "0001-01-01 10:00 (Asia/Hong_Kong), 0001-01-01 02:23 UTC"),
        (
            dt.datetime(2100, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            "2100-01-01 09:00-05:00, 2100-01-01 14:00 UTC",
        ),
        (dt.datetime(2100, 1, 1, tzinfo=dt.UTC), "2100-01-01 00:00 UTC"),
    ],
)
def test_an_impossible_time_is_said_as_its_range_is(moment, said):
    from book.times import validate_possible_time

    with pytest.raises(ValidationError) as refused:
        validate_possible_time(moment)

    assert str(refused.value.messages[0]).startswith(
        f"{said} is not a time this system keeps (from 2000-01-01 00:00 UTC"
    )


def test_the_trading_calendar_answers_for_every_time_the_windows_admit():
    earliest = min(feed_floor(), book_window(NOW)[0])
    latest = book_window(NOW)[1]
    day = earliest
    while day <= latest:
        deadline = call_deadline(day, 250)  # the rule sets' ceiling
        assert deadline > day
        assert sessions_after(deadline, 250) > deadline  # and the furthest a deadline may move
        day += dt.timedelta(days=5, hours=7)
    assert earliest > EARLIEST
    assert latest < END


def test_create_api_token_prints_its_secret_last(token, book):
    out = io.StringIO()

    call_command("create_api_token", "price-feed", stdout=out)

    secret = out.getvalue().strip().splitlines()[-1].split()[-1]
    assert ApiToken.objects.get(name="price-feed").digest == ApiToken.hash(secret)
    answer = post_ticks([{"symbol": "S.HK", "price": "99", "time": "2026-12-23T11:25:00+08:00"}], secret)
    assert answer["applied"] == 1
    with pytest.raises(CommandError, match="exists"):
        call_command("create_api_token", "price-feed", stdout=io.StringIO())
    with pytest.raises(CommandError, match="name contains a NUL"):
        call_command("create_api_token", "feed\x00", stdout=io.StringIO())
    with pytest.raises(CommandError, match="in these or other capitals"):
        call_command("create_api_token", "PRICE-FEED", stdout=io.StringIO())
    with pytest.raises(CommandError, match="name contains an invisible character"):
        call_command("create_api_token", "price\u200b-feed", stdout=io.StringIO())
    assert ApiToken.objects.get(name="price-feed").scopes == "ticks,lending,notice_status"  # all by default
    from console.models import AuditEntry

    [entry] = AuditEntry.objects.filter(action="admin_add", detail__model="book.ApiToken")
    assert (entry.user, entry.detail["object"]) == (None, "price-feed")
    assert entry.detail["by"] == "manage.py create_api_token"
    assert secret not in str(entry.detail)


def test_create_api_token_with_scopes_makes_a_token_that_posts_only_there(token, book):
    out = io.StringIO()

    call_command("create_api_token", "lender", "--scope", "lending", "--scope", "notice_status", stdout=out)

    assert "which may post lending,notice_status" in out.getvalue()
    secret = out.getvalue().strip().splitlines()[-1].split()[-1]
    refused = Client().post(
        reverse("book:api-ticks"), data="[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert refused.status_code == 403
    assert refused.json() == {"error": "the token 'lender' may not post ticks: it may post lending,notice_status"}
    with pytest.raises(CommandError, match="invalid choice: 'prices'"):
        call_command("create_api_token", "other", "--scope", "prices", stdout=io.StringIO())


def test_the_start_up_checks_name_a_bad_time_setting(settings, monkeypatch):
    assert checks.check_time_windows(None) == []
    settings.FEED_TIME_FLOOR = "1999-01-01"
    assert [problem.id for problem in checks.check_time_windows(None)] == ["risk.E002"]
    settings.FEED_TIME_FLOOR = "yesterday"
    assert [problem.id for problem in checks.check_time_windows(None)] == ["risk.E001"]
    settings.FEED_TIME_FLOOR = "2020-01-01"
    settings.BOOK_AS_OF_WINDOW_DAYS = 99999
    assert [problem.id for problem in checks.check_time_windows(None)] == ["risk.E004"]
    settings.BOOK_AS_OF_WINDOW_DAYS = 730
    monkeypatch.setattr(checks, "LAST_YEAR", 2030)  # a calendar whose holidays end too soon
    assert [problem.id for problem in checks.check_time_windows(None)] == ["risk.W001"]


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (dt.date(2026, 12, 23), "2026-12-22T16:00:00+00:00"),  # Hong Kong's midnight
        (dt.date(1, 1, 1), "1999-12-29T16:00:00+00:00"),  # days before any stored time
        (dt.date(9999, 12, 31), "2100-01-02T16:00:00+00:00"),  # days after any stored time
    ],
)
def test_a_day_filter_starts_at_hong_kong_midnight_within_the_times_kept(day, start):
    from book.times import local_day_start, on_local_day

    lookups = on_local_day("closed_at", day)

    assert local_day_start(day) == lookups["closed_at__gte"] == dt.datetime.fromisoformat(start)
    assert local_day_start(day).utcoffset() == dt.timedelta(hours=8)  # said in Hong Kong time
    assert lookups["closed_at__lt"] == lookups["closed_at__gte"] + dt.timedelta(days=1)
