"""The log: a refused request is one line, a server error keeps its traceback."""

import io
import logging
import sys

import pytest

from console.logs import Formatter
from tests.users import client_for, make_user


@pytest.fixture
def log_output():
    """What the settings' log handler writes, while the test runs."""
    handlers = [handler for handler in logging.getLogger().handlers if isinstance(handler.formatter, Formatter)]
    assert handlers, "the settings give the root logger's handler the console's formatter"
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


def test_a_server_error_keeps_its_traceback_and_the_record_its_exception():
    kept = record(500)
    assert "Traceback" in Formatter().format(kept)

    refused = record(403)
    assert "Traceback" not in Formatter().format(refused)
    assert refused.exc_info is not None  # for any other handler of the record
