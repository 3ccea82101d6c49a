"""console/locks.py: a transaction the database undid to break a deadlock is run again, whole."""

import pytest
from django.db import OperationalError, transaction
from psycopg import errors

from book.models import Desk
from console.locks import atomic_again, is_deadlock


def deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.django_db(transaction=True)
def test_work_the_database_undid_runs_again_whole_and_its_callbacks_run_once():
    tries, committed = [], []

    def work():
        tries.append(1)
        Desk.objects.create(code=f"D{len(tries)}", name="desk")
        transaction.on_commit(lambda: committed.append(len(tries)))
        if len(tries) == 1:
            raise deadlock()
        return "done"

    assert atomic_again(work, what="test") == "done"
    assert len(tries) == 2
    assert list(Desk.objects.filter(code__in=["D1", "D2"]).values_list("code", flat=True)) == ["D2"]
    assert committed == [2]  # the undone try's callback never ran


@pytest.mark.django_db(transaction=True)
def test_another_database_error_or_the_last_try_is_raised():
    def refused():
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError, match="server closed"):
        atomic_again(refused, what="test")
    tries = []

    def always():
        tries.append(1)
        raise deadlock()

    with pytest.raises(OperationalError, match="deadlock"):
        atomic_again(always, what="test", tries=3)
    assert len(tries) == 3


@pytest.mark.django_db
def test_inside_a_transaction_it_runs_once_in_a_savepoint():
    def half_then_fail():
        Desk.objects.create(code="HALF", name="desk")
        raise deadlock()

    with pytest.raises(OperationalError):
        atomic_again(half_then_fail, what="test")  # the test's transaction is the one to run again
    assert not Desk.objects.filter(code="HALF").exists()  # its savepoint undone: nothing half-written
    assert is_deadlock(deadlock())
    assert not is_deadlock(OperationalError("connection refused"))
