"""Orders and deliveries carry their account's desk (book.desk_copies), kept in step by the database, and
the desk scoping of their lists and actions follows it. (Calls: tests/risk/test_call_desk.py.)"""

import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction
from django.urls import reverse

from book.models import Account, Desk, Instrument
from liquidation.models import Order
from notices.models import Delivery, Notice
from tests.users import client_for


def place_order(account_no: str) -> Order:
    account = Account.objects.get(account_no=account_no)
    return Order.objects.create(
        account=account,
        instrument=Instrument.objects.order_by("pk").first(),
        side="sell",
        quantity=100,
        limit_price=Decimal("1.00"),
    )


def queue_delivery(account_no: str) -> Delivery:
    account = Account.objects.get(account_no=account_no)
    notice = Notice.objects.create(account=account, kind="manual", key=f"test:{account_no}")
    return Delivery.objects.create(
        notice=notice, channel="email", recipient="client@example.com", language="en", body="x"
    )


KINDS = {
    "orders": (place_order, "liquidation:orders"),
    "deliveries": (queue_delivery, "notices:list"),
}


def desk_of(row) -> str | None:
    row = type(row).objects.get(pk=row.pk)
    return row.desk.code if row.desk else None


def listed_to(user, url_name, row) -> bool:
    page = client_for(user).get(reverse(url_name))
    return row.pk in {shown.pk for shown in page.context["rows"]}


@pytest.fixture(params=KINDS)
def kind(request, book):
    return KINDS[request.param]


def test_a_row_is_written_on_its_accounts_desk(kind):
    make, _ = kind
    assert desk_of(make("M100001")) == "HK1"
    assert desk_of(make("T2")) == "HK2"


def test_a_row_follows_its_account_to_another_desk_and_out_of_sight(kind, desk_trader, trader):
    make, url_name = kind
    row = make("T2")
    assert listed_to(desk_trader, url_name, row)

    account = Account.objects.get(account_no="T2")
    account.desk = Desk.objects.get(code="HK1")
    account.save()

    assert desk_of(row) == "HK1"
    assert not listed_to(desk_trader, url_name, row)
    assert listed_to(trader, url_name, row)

    Account.objects.filter(account_no="T2").update(desk=Desk.objects.get(code="HK2"))  # a bulk update too
    assert desk_of(row) == "HK2"
    assert listed_to(desk_trader, url_name, row)

    Account.objects.filter(account_no="T2").update(desk=None)
    assert desk_of(row) is None
    assert not listed_to(desk_trader, url_name, row)
    assert listed_to(trader, url_name, row)


def test_a_row_cannot_be_written_onto_another_desk(kind):
    make, _ = kind
    row = make("M100001")
    type(row).objects.filter(pk=row.pk).update(desk=Desk.objects.get(code="HK2"))
    assert desk_of(row) == "HK1"
    row.desk = Desk.objects.get(code="HK2")
    row.save()
    assert desk_of(row) == "HK1"


def test_the_orders_desk_filter_reads_the_orders_desk(book, trader):
    hk1, hk2 = place_order("M100001"), place_order("T2")
    page = client_for(trader).get(reverse("liquidation:orders"), {"desk": "HK2"})
    assert [row.pk for row in page.context["rows"]] == [hk2.pk]
    Account.objects.filter(account_no="M100001").update(desk=Desk.objects.get(code="HK2"))
    page = client_for(trader).get(reverse("liquidation:orders"), {"desk": "HK2"})
    assert {row.pk for row in page.context["rows"]} == {hk1.pk, hk2.pk}


def test_a_failed_delivery_of_another_desk_cannot_be_sent_again(book, desk_trader):
    other = queue_delivery("M100001")  # desk HK1: not the desk trader's
    Delivery.objects.filter(pk=other.pk).update(status="failed")
    response = client_for(desk_trader).post(reverse("notices:resend"), {"deliveries": [str(other.pk)]})
    assert response.status_code == 404
    assert Delivery.objects.get(pk=other.pk).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_the_migrations_give_the_rows_there_are_their_accounts_desk_and_go_back(book):
    from tests.migrations import migrate, migrate_to_latest

    order, delivery = place_order("T2"), queue_delivery("M100001")
    try:
        apps = migrate([("liquidation", "0010_working_orders_counted"), ("notices", "0010_deliveries_newest_first")])
        assert "desk" not in {field.name for field in apps.get_model("liquidation", "Order")._meta.fields}
        apps = migrate([("liquidation", "0011_desk_copy"), ("notices", "0011_desk_copy")])
        assert apps.get_model("liquidation", "Order").objects.get(pk=order.pk).desk.code == "HK2"
        delivered = apps.get_model("notices", "Delivery").objects.values_list("pk", "desk__code")
        assert dict(delivered)[delivery.pk] == "HK1"
        assert all(desk for _, desk in delivered)  # the book's own notices too
    finally:
        migrate_to_latest()
    Account.objects.filter(account_no="T2").update(desk=Desk.objects.get(code="HK1"))  # the triggers are back
    assert desk_of(Order.objects.get()) == "HK1"


def test_a_delivery_follows_its_notice_to_another_account(book):
    delivery = queue_delivery("T2")
    Notice.objects.filter(pk=delivery.notice_id).update(account=Account.objects.get(account_no="M100001"))
    assert desk_of(delivery) == "HK1"


def move_in_another_transaction(account_no: str, desk: str, *, commit: threading.Event, moved: threading.Event):
    """Move an account to ``desk`` on a connection of its own; commit when told."""
    params = connection.get_connection_params()
    with psycopg.connect(**{key: value for key, value in params.items() if key != "cursor_factory"}) as other:
        other.execute(
            "UPDATE book_account SET desk_id = (SELECT id FROM book_desk WHERE code = %s) WHERE account_no = %s",
            [desk, account_no],
        )
        moved.set()
        commit.wait(10)
        other.commit()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("make", [place_order, queue_delivery], ids=["order", "delivery"])
@pytest.mark.parametrize("first", ["row", "move"])
def test_a_row_written_while_its_account_moves_desk_ends_on_the_new_desk(book, make, first):
    """Either the move waits for the row's transaction and then moves it, or the row waits for the move
    and reads the new desk: never a row left on the desk its account has left."""
    commit, moved = threading.Event(), threading.Event()
    mover = threading.Thread(
        target=move_in_another_transaction, args=("T2", "HK1"), kwargs={"commit": commit, "moved": moved}
    )
    if first == "row":
        with transaction.atomic():
            row = make("T2")
            mover.start()
            assert not moved.wait(0.5)  # the move waits for the row's transaction
            commit.set()
        mover.join(10)
    else:
        mover.start()
        assert moved.wait(10)
        written = []
        writer = threading.Thread(target=lambda: (written.append(make("T2")), connection.close()))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # the row waits for the move
        commit.set()
        writer.join(10)
        mover.join(10)
        row = written[0]
    assert Account.objects.get(account_no="T2").desk.code == "HK1"
    assert desk_of(row) == "HK1"
