"""Argument types for the management commands: a bad value is argparse's one-line error (exit 2),
never a traceback, and is refused before the command writes anything."""

import argparse
import re
from collections.abc import Callable
from decimal import Decimal

NUMBER = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
INTEGER = re.compile(r"-?[0-9]{1,30}")
LONG = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # plain digits, only too many of them


def text(value: str) -> str:
    """An account number, a user name, a symbol: printable text. Bytes that are not UTF-8 (read as lone
    surrogates), a NUL or another control character are refused."""
    if not value or not value.isprintable():
        raise argparse.ArgumentTypeError(f"{ascii(value)[:60]} is empty or holds a character that is not allowed")
    return value


def number(kind: Callable, low, high) -> Callable[[str], object]:
    """A number of ``kind`` (int, float or Decimal) from ``low`` to ``high``, in ASCII digits, written
    plainly (no exponent, no '_', no NaN)."""
    pattern = INTEGER if kind is int else NUMBER

    def parse(value: str):
        if not pattern.fullmatch(value):
            if LONG.fullmatch(value):
                raise argparse.ArgumentTypeError(f"{value[:40]} has more than 30 digits before or after the point")
            raise argparse.ArgumentTypeError(f"{ascii(value)[:40]} is not a number written in ASCII digits")
        parsed = kind(value)
        if not low <= parsed <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return parsed

    parse.__name__ = kind.__name__  # argparse names the type in its message
    return parse


percent = number(Decimal, Decimal(0), Decimal(100))


def add_several(parser: argparse.ArgumentParser, flag: str, *, metavar: str, help: str, **kwargs) -> None:
    """An option of several texts that may also be repeated, every value counting: ``--only A B --only C``
    is A, B and C (a second one does not replace the first)."""
    parser.add_argument(
        flag,
        type=text,
        nargs="+",
        action="extend",
        metavar=metavar,
        help=f"{help} (the option may be repeated)",
        **kwargs,
    )
