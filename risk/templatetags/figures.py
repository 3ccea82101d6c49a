"""Display of stored figures. Formatting only: no figure is computed in a template; the rounding
is :mod:`risk.formatting`'s, the same as CSV and exports."""

from django import template
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


@register.simple_tag
def call_type_label(call_type):
    return CallType(call_type).label if call_type else _("No call")


NOTICE_STATUS_LABELS = {
    "queued": _lazy("Queued"),
    "sending": _lazy("Sending"),
    "sent": _lazy("Sent"),
    "delivered": _lazy("Delivered"),
    "failed": _lazy("Failed"),
}


@register.simple_tag
def notice_status_label(status):
    """A call's last notice status, as the notices app writes it (the risk app does not import it)."""
    return NOTICE_STATUS_LABELS.get(status, status)


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
