"""Display of stored figures. Formatting only: no figure is computed in a template."""

from datetime import datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from risk import formatting
from risk.models import CallType

register = template.Library()


@register.filter
def money(value):
    """2 decimals (half up, as the engine rounds) with thousands separators; a dash for no value."""
    return formatting.money(value)


@register.filter
def percent(value):
    """A ratio as a percentage with 2 decimals, half up."""
    return formatting.percent(value)


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


@register.simple_tag
def call_type_label(call_type):
    return CallType(call_type).label if call_type else _("No call")


@register.filter
def price(value):
    """A price or rate as given, with at least 2 decimals and no trailing zeros past them."""
    if value is None:
        return "—"
    number = Decimal(value).normalize()
    places = max(2, -number.as_tuple().exponent)
    return f"{number:,.{places}f}"


@register.simple_tag(takes_context=True)
def sort_href(context, key):
    """The list's URL sorted by ``key``: descending first, toggled when already sorted by it."""
    query = context["query"].copy()
    current = context["sort"]
    query["sort"] = key if current == f"-{key}" else f"-{key}"
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


FIGURE_LABELS = {
    "total_cash": _lazy("Total cash"),
    "long_mv": _lazy("Long market value"),
    "short_mv": _lazy("Short market value"),
    "equity": _lazy("Equity"),
    "illiquid_mv": _lazy("Illiquid market value"),
    "liquid_nav": _lazy("Liquid net assets"),
    "exposure": _lazy("Exposure"),
    "nav_ratio": _lazy("Net asset ratio"),
    "im": _lazy("Initial margin"),
    "mm": _lazy("Maintenance margin"),
    "fm": _lazy("Force-liquidation margin"),
    "loan": _lazy("Loan"),
    "excess_financing": _lazy("Excess financing"),
    "margin_shortfall": _lazy("Margin shortfall"),
    "force_shortfall": _lazy("Force shortfall"),
    "call_amount": _lazy("Call amount"),
}


@register.simple_tag
def figure_label(name):
    return FIGURE_LABELS.get(name, name)


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
