"""CSV exports, safe to open in a spreadsheet. Every CSV the console writes goes through
:func:`csv_response`.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula (``=HYPERLINK(...)`` in a remark would become a live link on the
desk's screen). Such a cell gets a leading ``'`` (OWASP's rule for CSV injection) and every text cell
is quoted. Spaces and characters that show nothing (a zero-width space, a byte order mark) in front
of such a start do not hide it, and the full-width forms (``＝``, ``＋``, ``－``, ``＠``), which some
spreadsheet programs read as their ASCII forms, count too.

The type of a value says which it is: ``str`` is text, from a client, an upstream system or a trader,
and is neutralised; ``int``, ``Decimal`` and ``float`` are figures the program formats
itself and are written as plain, unquoted numbers (``-1234.50``), so spreadsheets still add them up.
A figure passed as a string is text, and a negative one would get the ``'``: pass figures as numbers.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _shown_start(text: str) -> str:
    """``text`` from its first character that is not a space, a control or a format character."""
    for index, char in enumerate(text):
        if char in "\t\r":
            return text[index:]
        if not (char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")):
            return text[index:]
    return ""


def csv_cell(value):
    """One cell as it is written: a number as it is, nothing as an empty cell, anything else as text
    that cannot start a formula."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if _shown_start(text).startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_response(filename: str, header: Iterable, rows: Iterable[Iterable]) -> HttpResponse:
    """An attachment ``filename`` with one header row and the rows, each cell through :func:`csv_cell`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
    # QUOTE_STRINGS: text in quotes, numbers and empty cells bare.
    writer = csv.writer(response, quoting=csv.QUOTE_STRINGS)
    writer.writerow([csv_cell(value) for value in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response
