"""The PostgreSQL connection pool after the server ended its connections (a restart, a failover, an
operator's pg_terminate_backend): the next request gets a working connection, not the dead one."""

import psycopg
import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_connection_the_server_ended_is_replaced_when_lent():
    pool = connection.pool
    with pool.connection() as lent:
        ended = lent.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])

    with pool.connection() as lent:
        assert lent.execute("SELECT 1").fetchone() == (1,)
        assert lent.info.backend_pid != ended
