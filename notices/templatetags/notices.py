"""How a delivery's error reads to the desk: in the reader's language, in a trader's words. The error as
stored (the gateway's own words, for the operators) stays in the title, on hover."""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext as _

from notices.services import NOT_SENT

register = template.Library()

GAVE_UP = re.compile(r" \(gave up after (\d+) attempts\)$")


@register.filter
def delivery_error(delivery) -> str:
    error = delivery.error or ""
    channel = delivery.get_channel_display()
    gave_up = GAVE_UP.search(error)
    if gave_up:
        error = error[: gave_up.start()]
    words = {
        NOT_SENT["closed"]: _("Not sent: its call closed before it went."),
        NOT_SENT["past_deadline"]: _("Not sent: its call's deadline passed before it went."),
        NOT_SENT["exception"]: _("Not sent: its call was marked exception before it went."),
        NOT_SENT["retyped"]: _("Not sent: its call's type changed before it went."),
    }.get(error)
    if words is None:
        if error.startswith("the client has no "):
            words = _("The client has no %(channel)s address.") % {"channel": channel}
        elif error.startswith("the client's phone "):
            words = _("The client's phone number is not one a gateway can send to.")
        elif error.startswith("the client's email "):
            words = _("The client's email address is not one mail can go to (it holds an invisible character).")
        elif re.match(r"no \w+ gateway is configured", error):
            words = _("No %(channel)s gateway is set up: ask a risk admin.") % {"channel": channel}
        elif re.match(r"\w+ gateway (answered|refused it)", error):
            code = re.search(r"(\d{3})", error)
            words = _("The %(channel)s gateway refused it (%(code)s).") % {
                "channel": channel,
                "code": code.group(1) if code else "?",
            }
        elif re.match(r"\w+ gateway unreachable|email: ", error):
            words = _("The %(channel)s gateway could not be reached.") % {"channel": channel}
        elif error.startswith("interrupted while sending"):
            words = _("Interrupted while sending: not sent again by itself (it may have gone).")
        else:
            words = error
    if gave_up:
        words = _("%(error)s Gave up after %(attempts)s attempts.") % {"error": words, "attempts": gave_up.group(1)}
    return words
