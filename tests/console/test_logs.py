"""The log: a refused request is one line, a server error keeps its traceback."""

import io
import logging
import sys

import pytest

from console.logs import ClientErrorsWithoutTraceback
from tests.users import client_for, make_user


@pytest.fixture
def log_output():
    """What the settings' log handler writes, while the test runs."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, ClientErrorsWithoutTraceback) for f in handler.filters)
    ]
    assert handlers, "the settings attach the filter to the root logger's handler"
    output = io.StringIO()
    previous = [handler.setStream(output) for handler in handlers]
    yield output
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/risk-warning/", "/calls/events/margin/"])
def test_a_refused_request_is_logged_as_one_line(log_output, url):
    response = client_for(make_user("nobody")).get(url)

    assert response.status_code == 403
    written = log_output.getvalue()
    assert f"Forbidden (Permission denied): {url}" in written
    assert "Traceback" not in written


def record(status_code):
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    made = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), exc_info)
    made.status_code = status_code
    return made


def test_a_server_error_keeps_its_traceback():
    kept = record(500)
    assert ClientErrorsWithoutTraceback().filter(kept)
    assert kept.exc_info is not None

    dropped = record(403)
    assert ClientErrorsWithoutTraceback().filter(dropped)
    assert dropped.exc_info is None
