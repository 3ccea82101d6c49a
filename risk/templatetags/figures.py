"""Display of stored figures. Formatting only: no figure is computed in a template; the rounding
is :mod:`risk.formatting`'s, the same as CSV and exports."""

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from book.models import InstrumentStatus
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
def status_label(status):
    """An instrument's status as the page's language names it (a snapshot keeps the stored value)."""
    return InstrumentStatus(status).label if status in InstrumentStatus.values else status


@register.simple_tag
def call_rows(rows, can_act):
    """The open-call lists' rows (:mod:`risk.rows`)."""
    from risk.rows import call_rows

    return call_rows(rows, can_act=bool(can_act))


@register.simple_tag
def call_type_label(call_type):
    return CallType(call_type).label if call_type else _("No call")


NOTICE_STATUS_LABELS = {
    "queued": gettext_lazy("Queued"),
    "sending": gettext_lazy("Sending"),
    "sent": gettext_lazy("Sent"),
    "delivered": gettext_lazy("Delivered"),
    "failed": gettext_lazy("Failed"),
    # one channel failed, another went: the client was told, on some channel
    "partly_failed": gettext_lazy("Partly failed"),
}


@register.simple_tag
def notice_status_label(status):
    """A call's last notice status, as the notices app writes it (the risk app does not import it)."""
    return NOTICE_STATUS_LABELS.get(status, status)


FIGURE_LABELS = {
    "total_cash": gettext_lazy("Total cash"),
    "long_mv": gettext_lazy("Long market value"),
    "short_mv": gettext_lazy("Short market value"),
    "equity": gettext_lazy("Equity"),
    "illiquid_mv": gettext_lazy("Illiquid market value"),
    "liquid_nav": gettext_lazy("Liquid net assets"),
    "exposure": gettext_lazy("Exposure"),
    "nav_ratio": gettext_lazy("Net asset ratio"),
    "im": gettext_lazy("Initial margin"),
    "mm": gettext_lazy("Maintenance margin"),
    "fm": gettext_lazy("Force-liquidation margin"),
    "loan": gettext_lazy("Loan"),
    "excess_financing": gettext_lazy("Excess financing"),
    "margin_shortfall": gettext_lazy("Margin shortfall"),
    "force_shortfall": gettext_lazy("Force shortfall"),
    "call_amount": gettext_lazy("Call amount"),
}


@register.simple_tag
def figure_label(name):
    return FIGURE_LABELS.get(name, name)
