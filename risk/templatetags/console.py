"""Display of stored figures. Formatting only: no figure is computed in a template."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from risk.models import CallType

register = template.Library()


@register.filter
def money(value):
    """2 decimals with thousands separators; a dash for no value."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value):,.2f}"


@register.filter
def percent(value):
    """A ratio as a percentage with 2 decimals."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value) * 100:,.2f}%"


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
