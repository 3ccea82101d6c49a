"""Template tags every console page may use: numbers as given, list sorting, paging and tabs, stored
times. The figures' own filters (money, percent, call types) are the risk app's ``figures`` library."""

from datetime import datetime
from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.safestring import mark_safe

from console import text

register = template.Library()


@register.filter
def when(value):
    """A time in a dense list: ``12-10 16:00`` in this year (the year goes without saying), else
    ``2025-12-10 16:00``, with the whole time as its title; Hong Kong time, as every time the console
    shows. A list shows a few of these on every row: one conversion, no template date format."""
    if not value:
        return ""
    zone = timezone.get_current_timezone()
    return when_in(value, zone, timezone.localtime(timezone=zone).year)


def when_in(value, zone, this_year: int) -> str:
    """:func:`when` of a time (not None) for a list that writes many: its zone and year read once."""
    local = timezone.localtime(value, zone)
    full = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    shown = full[5:] if local.year == this_year else full
    return mark_safe(f'<span title="{full}">{shown}</span>')  # digits, dashes, a space and a colon only


@register.filter
def language_name(code):
    """A language's own name (English, 简体中文, 繁體中文) for its code, as the language menu says it."""
    return dict(settings.LANGUAGES).get(code, code)


@register.filter
def rate(value):
    if value is None:
        return "—"
    return f"{Decimal(value) * 100:.2f}%".replace(".00%", "%")


@register.filter
def quantity(value):
    return f"{value:,}"


@register.filter
def sign_class(value):
    if value is None or value == "":
        return ""
    return "neg" if Decimal(value) < 0 else ""


@register.filter
def shortfall_class(value):
    """A shortfall is red when there is one (above 0); at or below 0 it is a surplus, nothing to flag."""
    if value is None or value == "":
        return ""
    return "neg" if Decimal(value) > 0 else ""


@register.filter
def price(value):
    """A price or rate as given, with at least 2 decimals and no trailing zeros past them."""
    if value is None:
        return "—"
    number = Decimal(value).normalize()
    places = max(2, -number.as_tuple().exponent)
    return f"{number:,.{places}f}"


# Columns whose first click sorts ascending: the worst or most urgent first (the lowest net asset ratio,
# the nearest deadline), names and numbers A to Z. Any other column: the largest or latest first.
ASCENDING_FIRST = frozenset({"account", "name", "deadline", "ratio", "auto", "symbol", "underlying", "due"})


@register.simple_tag(takes_context=True)
def sort_href(context, key):
    """The list's URL sorted by ``key``: first the way that column is read (:data:`ASCENDING_FIRST`, else
    descending), toggled when already sorted by it."""
    query = context["query"].copy()
    current = context["sort"]
    first, other = (key, f"-{key}") if key in ASCENDING_FIRST else (f"-{key}", key)
    query["sort"] = other if current == first else first
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def sort_mark(context, key):
    current = context["sort"]
    if current == key:
        return "▲"
    if current == f"-{key}":
        return "▼"
    return ""


@register.simple_tag(takes_context=True)
def page_href(context, page):
    query = context["query"].copy()
    query["page"] = page
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def tab_href(context, tab):
    query = context["query"].copy()
    query["tab"] = tab
    query.pop("page", None)
    return "?" + query.urlencode()


@register.filter
def iso_datetime(value):
    """A stored ISO 8601 text as a datetime in the current time zone (for the ``date`` filter)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


@register.filter
def read(texts):
    """A text the system stored in every language (:func:`console.text.every_language`), in the reader's."""
    return text.read(texts)
