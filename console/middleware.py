"""Requests refused before any view or middleware reads them."""

import codecs
import logging
import time

from asgiref.sync import iscoroutinefunction
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin

from .locks import is_deadlock
from .queue import Outage

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


@sync_and_async_middleware
def forms_in_utf8(get_response):
    """A form POSTed in another charset than UTF-8 (``charset=latin-1``) is a 400 that names the
    charset. Django refuses to decode one, and does so again in each reader of the form: the CSRF
    check, then its own 400 page, which then fails as a 500. Placed before the CSRF check; the
    server's async requests (the event streams) stay async."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _refusal(request) or await get_response(request)

    else:

        def middleware(request):
            return _refusal(request) or get_response(request)

    return middleware


def _refusal(request):
    if request.method != "POST" or request.content_type != FORM or request.encoding is None:
        return None
    try:
        utf8 = codecs.lookup(request.encoding).name == "utf-8"
    except LookupError:  # Django keeps only a charset Python knows; this is for one set otherwise
        utf8 = False
    if utf8:  # "UTF8", "utf_8": Django decodes a form only if its charset is written "utf-8"
        request.encoding = "utf-8"
        return None
    message = f"A form must be sent in UTF-8; this one declares charset={request.encoding[:40]!r}."
    if request.path.startswith("/api/"):  # the APIs answer their errors in JSON
        return JsonResponse({"error": message}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


# The database out of reach, as the alerts logger tells it: once, every 5 minutes while it lasts, and
# when it is over; not a traceback per request.
DATABASE_AWAY = Outage(remind_seconds=300)


def database_away(error: BaseException) -> bool:
    """Whether this error is the database being out of reach (refused, dropped, shut down, or the pool
    out of connections), not a statement it refused."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    cause = error.__cause__ or error
    state = getattr(cause, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))


class DatabaseAway(MiddlewareMixin):
    """A request that fails because the database is out of reach is a 503 with ``Retry-After``: JSON for
    the API (a feed retries), the console's own page otherwise (rendered without the request: its menu
    would ask the database again)."""

    def process_request(self, request):
        # While the database is known to be away, a request is answered at once rather than after
        # waiting for the pool (DB_POOL_TIMEOUT): the database is asked at most every PROBE_SECONDS,
        # on a connection of its own with a short timeout, and once it answers requests go through.
        if DATABASE_AWAY.since is None or request.path == "/healthz" or _database_reachable():
            return None
        return _unavailable(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError) and is_deadlock(exception):
            # Undone whole by the database to break a deadlock with another writer: nothing was
            # written, and sending it again works.
            logger.warning("%s %s deadlocked with another writer: answered 503", request.method, request.path)
            return _unavailable(request, busy=True)
        if not database_away(exception):
            return None
        first_line = (str(exception).strip().splitlines() or [type(exception).__name__])[0]
        DATABASE_AWAY.failed("the database is out of reach (%s): requests are answered 503", first_line)
        return _unavailable(request)

    def process_response(self, request, response):
        # Over only once the database itself answers (a page that asked it nothing proves nothing).
        if DATABASE_AWAY.since is not None and response.status_code < 500 and _database_answers():
            DATABASE_AWAY.over("the database answers again")
        return response


def _unavailable(request, *, busy: bool = False) -> HttpResponse:
    if request.path.startswith("/api/"):
        said = "another writer held the same rows; nothing was written: send it again" if busy else None
        response = JsonResponse({"error": said or "the database is out of reach; try again shortly"}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"busy": busy}), status=503)
    response["Retry-After"] = "1" if busy else "5"
    return response


PROBE_SECONDS = 2.0
_probe = {"at": -PROBE_SECONDS, "answered": False}


def _database_reachable() -> bool:
    """Whether the database takes a connection: asked at most every PROBE_SECONDS (between, the last
    answer), each time on a new connection of its own that waits at most 2 s."""
    now = time.monotonic()
    if now - _probe["at"] < PROBE_SECONDS:
        return _probe["answered"]
    _probe["at"] = now
    _probe["answered"] = _connects()
    return _probe["answered"]


def _connects() -> bool:
    from django.db import connection

    if connection.vendor != "postgresql":
        return True  # a file: nothing to reach
    import psycopg

    try:
        with psycopg.connect(**{**connection.get_connection_params(), "connect_timeout": 2}) as direct:
            direct.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _database_answers() -> bool:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return False
    return True
