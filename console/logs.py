"""How the log writes a record."""

from __future__ import annotations

import logging
from datetime import datetime

# A line of the log: the server's, the worker's and beat's alike.
LINE = "%(asctime)s %(levelname)s %(name)s %(message)s"


class Formatter(logging.Formatter):
    """A refused request (403, or any 4xx Django logs from an exception it raised) is written as its one
    line, ``Forbidden (Permission denied): /risk/stream/``, without the exception's traceback: the
    request was wrong, not the program, and a traceback in the log reads as a fault to whoever watches
    it. Server errors keep theirs. Only what this formatter writes changes: the record itself, which
    other handlers may also receive, keeps its exception."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Local time with its offset from UTC, to the millisecond: every process's lines (the server's
        before Django sets the time zone, the worker's, beat's) read on one clock."""
        return datetime.fromtimestamp(record.created).astimezone().isoformat(sep=" ", timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)
