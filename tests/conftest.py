import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from tests.books import one_stock_book
from tests.users import make_user

BOOKS = Path(__file__).parent / "books"


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled them
def pytest_collection_modifyitems(config, items):
    on_postgres = bool(os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")))
    skip_postgres = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... to run")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_postgres)
    # Browser tests last: Playwright keeps an event loop in the main thread from its first test on,
    # and the async views' tests need a thread without one.
    items.sort(key=lambda item: "browser" in item.keywords)


# The moment the tests run at: a Wednesday session before the Christmas half day, inside every window
# the books and ticks of the tests need (a book's as_of within two years, a tick not in the future).
TEST_NOW = datetime(2026, 12, 23, 11, 30, tzinfo=ZoneInfo("Asia/Hong_Kong"))


@pytest.fixture(autouse=True)
def clock():
    """Tests run at TEST_NOW, whatever the day they run on; the clock moves on from there."""
    with time_machine.travel(TEST_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def english():
    """Each test starts in the default language: a request in another one leaves it active in the
    thread (the locale middleware activates it and never deactivates it)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def worked_book() -> dict:
    return json.loads((BOOKS / "worked_example.json").read_text())


@pytest.fixture
def import_book(db):
    """Import a book given as a dict; return the result."""
    from book.book_import import import_book_text

    def run(book: dict):
        return import_book_text(json.dumps(book))

    return run


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def celery_runs_tasks_in_process():
    """Tasks run where they are sent, as in the embedded default; the worker test turns this off."""
    from margincall.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def exchange(settings):
    """The simulated exchange with no delay: ``exchange()`` is one of its turns (beat's, in production),
    returning how many orders it moved."""
    from liquidation import tasks

    settings.SIMULATED_FILL_DELAY_SECONDS = 0
    return tasks.simulate_exchange


@pytest.fixture
def book(import_book, worked_book):
    """The book most tests use: the SPEC worked example (M100001, desk HK1, a margin call) and one
    call on desk HK2 (T2), so desk scoping has something to hide. A module that needs another book
    defines its own ``book``."""
    import_book(worked_book)
    import_book(one_stock_book(desk="HK2", account_no="T2"))


# Users of the console, on the book of the test.


@pytest.fixture
def trader(book):
    return make_user("trader", "RiskWarningFull")


@pytest.fixture
def viewer(book):
    return make_user("viewer", "RiskWarningReadOnly")


@pytest.fixture
def desk_trader(book):
    """A trader granted only desk HK2."""
    return make_user("hk2trader", "RiskWarningFull", all_desks=False, desks=["HK2"])


@pytest.fixture
def token(db):
    """The secret of an API token named "feed" that may post to every API."""
    from book.models import ApiToken

    api_token = ApiToken(name="feed")
    secret = api_token.issue()
    api_token.save()
    return secret
