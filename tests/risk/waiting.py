"""Waiting, in tests that race a recompute against another process or thread."""

import time

from django.db import connection


def waiting_on_the_lock() -> bool:
    """Someone waits for an advisory lock (the recompute lock) that another holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def wait_for(condition, seconds) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
