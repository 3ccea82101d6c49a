"""Transactions the database undid to break a deadlock, told apart from other database errors.

Every writer takes its rows in one order (calls by account, then id; positions and instruments by id),
so two of the console's own writers do not deadlock. A writer may still meet one from outside that
order (an admin's edit of many rows, a feed's batch): PostgreSQL then undoes one transaction, whole,
and it can be run again as it was."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

TRIES = 3
UNDONE = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def advisory_lock(key: int) -> None:
    """Serialise one kind of writer across processes until this transaction ends (PostgreSQL: a
    transaction-level advisory lock on ``key``; SQLite's IMMEDIATE transactions serialise writers
    themselves)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def is_deadlock(error: BaseException) -> bool:
    """Whether the database undid the transaction to break a deadlock (or a serialisation conflict)."""
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None) in UNDONE


def atomic_again[T](work: Callable[[], T], *, what: str, tries: int = TRIES) -> T:
    """``work()`` in a transaction of its own; run again, up to ``tries`` times in all, when the
    database undid it to break a deadlock. Inside another transaction it runs once (in a savepoint):
    the outer one was undone with it and is the one to run again."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():  # a savepoint: all of it or none, as alone
            return work()
    for attempt in range(1, tries + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as error:
            if not is_deadlock(error) or attempt == tries:
                raise
            logger.warning("%s deadlocked with another writer; trying again (%s of %s)", what, attempt + 1, tries)
    raise AssertionError("unreachable")
