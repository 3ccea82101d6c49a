"""How figures are written, for pages, CSV and exports alike. The rounding is the engine's
(:func:`risk.calculations.round_money`, :func:`risk.calculations.round_ratio`: half up), so a figure
reads the same wherever it appears; Python's own formatting would round half to even (2.345 -> 2.34)."""

from __future__ import annotations

from decimal import Decimal

from .calculations import ENGINE_CONTEXT, round_money, round_ratio

NO_VALUE = "—"


def as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value, *, grouping: bool = True) -> str:
    """2 decimals, half up; thousands separators on pages, none in files."""
    number = as_decimal(value)
    if number is None:
        return NO_VALUE
    return f"{round_money(number):{',' if grouping else ''}.2f}"


def ratio(value) -> str:
    """A ratio with 4 decimals, half up (as stored and exported)."""
    number = as_decimal(value)
    return NO_VALUE if number is None else f"{round_ratio(number):.4f}"


def percent(value) -> str:
    """A ratio as a percentage with 2 decimals, half up."""
    number = as_decimal(value)
    if number is None:
        return NO_VALUE
    return f"{round_money(number.scaleb(2, context=ENGINE_CONTEXT)):,.2f}%"
