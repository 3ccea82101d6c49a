"""Book writes, recompute passes and desk moves running at once, on PostgreSQL: no deadlock, no call
left on the wrong desk."""

import threading
import time
from decimal import Decimal
from importlib import import_module

import pytest
from django.db import connections, transaction

from book.models import Account, CashBalance, Desk, Instrument, Position
from risk import services
from risk.models import AccountRisk, MarginCall
from tests.risk.waiting import wait_for, waiting_on_the_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_thread(target, errors: dict, name: str) -> threading.Thread:
    def run():
        try:
            target()
        except Exception as error:
            errors[name] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def race_a_pass(write, started: threading.Event, stock) -> dict:
    """Run ``write`` in one thread and, once it has ``started``, a pass over ``stock``'s holders in
    another; the errors each raised."""
    errors = {}
    writer = run_in_thread(write, errors, "write")
    started.wait(5)
    passing = run_in_thread(lambda: services.recompute_accounts(holders_of=[stock.pk]), errors, "pass")
    writer.join(30)
    passing.join(30)
    return errors


def test_the_triggers_take_the_recompute_lock_the_services_take():
    migration = import_module("risk.migrations.0011_book_writes_take_recompute_lock")
    assert migration.RECOMPUTE_LOCK_KEY == services.RECOMPUTE_LOCK_KEY


def test_a_book_write_and_a_pass_over_its_account_do_not_deadlock():
    """A fill changes X's position (clearing X's sums), then recomputes X; meanwhile a pass follows a
    price X holds and writes X's figures."""
    stock = Instrument.objects.create(symbol="R", price=Decimal("10"), lot_size=1, mm_rate=Decimal("0.5"))
    holder = Account.objects.create(account_no="X1")
    Position.objects.create(account=holder, instrument=stock, quantity=100)
    CashBalance.objects.create(account=holder, currency="HKD", amount=Decimal("5"))
    services.recompute_accounts(account_ids=[holder.pk])
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("11"))  # a tick, committed
    written = threading.Event()

    def book_write():
        with transaction.atomic():
            Position.objects.filter(account=holder).update(quantity=200)
            written.set()
            time.sleep(0.5)  # the pass reaches X meanwhile
            services.recompute_accounts(account_ids=[holder.pk])

    assert race_a_pass(book_write, written, stock) == {}
    risk = AccountRisk.objects.get(account=holder)
    assert risk.long_mv == Decimal("2200.00")  # 200 at 11: both the write and the price are in
    assert risk.exact_cash is not None


def test_a_call_opened_while_its_account_moves_desk_ends_on_the_new_desk():
    first, second = Desk.objects.create(code="R1", name="R1"), Desk.objects.create(code="R2", name="R2")
    stock = Instrument.objects.create(symbol="R", price=Decimal("100"), lot_size=1, mm_rate=Decimal("0.5"))
    holder = Account.objects.create(account_no="X1", desk=first, credit_limit=Decimal("1000000"))
    Position.objects.create(account=holder, instrument=stock, quantity=1000)
    CashBalance.objects.create(account=holder, currency="HKD", amount=Decimal("-60000"))
    opened, moving = threading.Event(), threading.Event()
    errors = {}

    def open_call():  # a recompute that opens X's call, not yet committed when the desk moves
        with transaction.atomic():
            services.recompute_accounts(account_ids=[holder.pk])
            opened.set()
            moving.wait(5)
            time.sleep(0.3)  # the move is under way (waiting, if the call's desk is read locked)

    def move_desk():
        moving.set()
        Account.objects.filter(pk=holder.pk).update(desk=second)

    recompute = run_in_thread(open_call, errors, "recompute")
    opened.wait(5)
    mover = run_in_thread(move_desk, errors, "desk move")
    recompute.join(30)
    mover.join(30)
    assert errors == {}
    assert MarginCall.objects.get(account=holder).desk_id == second.pk


def test_an_account_edit_and_a_pass_opening_its_call_do_not_deadlock():
    """An admin save or an import writes the account's row, then its cash (the trigger waits for the
    recompute lock); meanwhile a pass holding that lock opens the account's call."""
    stock = Instrument.objects.create(symbol="R", price=Decimal("100"), lot_size=1, mm_rate=Decimal("0.5"))
    holder = Account.objects.create(account_no="X1", credit_limit=Decimal("1000000"))
    Position.objects.create(account=holder, instrument=stock, quantity=1000)
    CashBalance.objects.create(account=holder, currency="HKD", amount=Decimal("-40000"))
    services.recompute_accounts(account_ids=[holder.pk])
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("70"))  # calls the account
    edited = threading.Event()

    def edit():
        with transaction.atomic():
            Account.objects.filter(pk=holder.pk).update(name="Renamed")
            edited.set()
            time.sleep(0.5)  # the pass starts meanwhile
            CashBalance.objects.filter(account=holder).update(amount=Decimal("-39000"))
            services.recompute_accounts(account_ids=[holder.pk])

    assert race_a_pass(edit, edited, stock) == {}
    assert MarginCall.objects.filter(account=holder, closed_at__isnull=True).count() == 1


def test_a_pass_that_waited_for_the_one_before_it_follows_the_prices_that_came_meanwhile():
    """A pass is queued while another runs: it follows the prices that moved while it waited for the
    lock too, not only those waiting when it was queued (those would wait for a third pass)."""
    from django.utils import timezone

    from book import pending
    from book.models import PendingRecompute

    early = Instrument.objects.create(symbol="W1", price=Decimal("10"), lot_size=1, mm_rate=Decimal("0.5"))
    late = Instrument.objects.create(symbol="W2", price=Decimal("20"), lot_size=1, mm_rate=Decimal("0.5"))
    holder = Account.objects.create(account_no="X1")
    Position.objects.create(account=holder, instrument=early, quantity=100)
    Position.objects.create(account=holder, instrument=late, quantity=100)
    services.recompute_accounts(account_ids=[holder.pk])

    def tick(stock, price):
        with transaction.atomic():
            Instrument.objects.filter(pk=stock.pk).update(price=price, price_time=timezone.now())
            pending.mark([stock.pk], now=timezone.now())

    tick(early, Decimal("11"))
    running, done = threading.Event(), threading.Event()

    def pass_under_way():
        with transaction.atomic():
            services._recompute_lock()
            running.set()
            done.wait(10)

    errors = {}
    under_way = run_in_thread(pass_under_way, errors, "under way")
    running.wait(5)
    queued = run_in_thread(services.follow_pending, errors, "queued")
    assert wait_for(waiting_on_the_lock, 10)  # the queued pass has started and waits for the lock
    tick(late, Decimal("22"))
    done.set()
    under_way.join(30)
    queued.join(30)
    assert errors == {}
    assert not PendingRecompute.objects.exists()
    assert AccountRisk.objects.get(account=holder).long_mv == Decimal("3300.00")  # 100 at 11 and 100 at 22


def test_two_senders_of_the_same_prices_in_opposite_orders_do_not_deadlock():
    from book.ticks import apply_ticks

    stocks = [Instrument.objects.create(symbol=f"D{n}.HK", price=Decimal("10"), lot_size=1) for n in range(30)]
    rounds, barrier, errors = 15, threading.Barrier(2, timeout=30), {}

    def send(symbols, name):
        def run():
            for round_no in range(rounds):
                at = f"2026-12-23T10:00:{round_no:02d}+08:00"
                items = [{"symbol": symbol, "price": f"{11 + round_no}", "time": at} for symbol in symbols]
                barrier.wait()
                with transaction.atomic():
                    result = apply_ticks(items)
                assert all(outcome.applied for outcome in result.outcomes), result.outcomes

        return run_in_thread(run, errors, name)

    symbols = [stock.symbol for stock in stocks]
    threads = [send(symbols, "forward"), send(symbols[::-1], "backward")]
    for thread in threads:
        thread.join(60)

    assert errors == {}
    assert set(Instrument.objects.filter(symbol__startswith="D").values_list("price", flat=True)) == {Decimal(25)}
