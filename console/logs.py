"""Logging filters the settings attach to the log's handlers."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, or any 4xx Django logs from an exception it raised) is logged as its
    one line, ``Forbidden (Permission denied): /risk/stream/``, without the exception's traceback:
    the request was wrong, not the program, and a traceback in the log reads as a fault to whoever
    watches it. Server errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
