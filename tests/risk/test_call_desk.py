"""A call carries its account's desk (kept in step by the database), and the desk scoping of the lists
and pages follows it."""

from django.urls import reverse

from book.models import Account, Desk
from risk.models import MarginCall
from tests.users import client_for


def desk_of_call(account_no):
    return MarginCall.objects.get(account__account_no=account_no).desk.code


def shown_to(user, account_no) -> bool:
    html = client_for(user).get(reverse("risk:warning")).content.decode()
    return f">{account_no}<" in html


def test_a_call_opens_on_its_accounts_desk(book):
    assert desk_of_call("M100001") == "HK1"
    assert desk_of_call("T2") == "HK2"


def test_an_account_that_moves_desk_takes_its_calls_and_their_visibility(desk_trader, trader):
    call = MarginCall.objects.get(account__account_no="T2")
    assert shown_to(desk_trader, "T2")
    assert client_for(desk_trader).get(reverse("risk:call", args=[call.pk])).status_code == 200

    account = Account.objects.get(account_no="T2")
    account.desk = Desk.objects.get(code="HK1")
    account.save()

    assert desk_of_call("T2") == "HK1"
    assert not shown_to(desk_trader, "T2")
    assert client_for(desk_trader).get(reverse("risk:call", args=[call.pk])).status_code == 404
    assert shown_to(trader, "T2")

    Account.objects.filter(account_no="T2").update(desk=Desk.objects.get(code="HK2"))  # a bulk update too
    assert desk_of_call("T2") == "HK2"
    assert shown_to(desk_trader, "T2")


def test_a_call_cannot_be_written_onto_another_desk(desk_trader):
    call = MarginCall.objects.get(account__account_no="M100001")
    MarginCall.objects.filter(pk=call.pk).update(desk=Desk.objects.get(code="HK2"))
    assert desk_of_call("M100001") == "HK1"
    call.desk = Desk.objects.get(code="HK2")
    call.save()
    assert desk_of_call("M100001") == "HK1"
    assert not shown_to(desk_trader, "M100001")


def test_an_account_with_no_desk_has_calls_only_all_desk_users_see(desk_trader, trader):
    Account.objects.filter(account_no="T2").update(desk=None)
    assert MarginCall.objects.get(account__account_no="T2").desk is None
    assert not shown_to(desk_trader, "T2")
    assert shown_to(trader, "T2")


def test_the_desk_filter_reads_the_calls_desk(trader):
    html = client_for(trader).get(reverse("risk:warning"), {"desk": "HK2"}).content.decode()
    assert ">T2<" in html
    assert ">M100001<" not in html
