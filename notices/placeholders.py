"""Notice texts: placeholders like ``{call_amount}`` filled from a fixed set of values, without any
template language. A placeholder cannot run code or reach other data: it is a name in
:data:`PLACEHOLDERS`, replaced by its value as text. ``{{`` and ``}}`` write a literal brace."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

PLACEHOLDERS = {
    "account": _("account number"),
    "name": _("client's name"),
    "desk": _("desk"),
    "call_amount": _("call amount (HKD)"),
    "deadline": _("deadline (Hong Kong time)"),
    "type": _("call type, in the client's language"),
    "ratio": _("net asset ratio"),
    "triggered": _("trigger time (Hong Kong time)"),
    "equity": _("equity (HKD)"),
    "broker": _("the broker's name"),
    "stock": _("the stock to recover (stock recovery)"),
    "quantity": _("the shares to recover (stock recovery)"),
    "due": _("when they are due (stock recovery, Hong Kong time)"),
}

# What only a notice about a call fills, and what only a message about stock to recover fills: in a
# text of the other kind they would come out empty.
CALL_ONLY = frozenset({"call_amount", "deadline", "type", "ratio", "triggered", "equity"})
RECOVERY_ONLY = frozenset({"stock", "quantity", "due"})
# The notice kinds about an account's stock to recover (short stock; shares for sold calls), not a call.
RECOVERY_KINDS = frozenset({"recovery", "covered_call"})
# A debit call (a debt with no position) has no net asset ratio: its notice would always read "—".
NOT_IN_DEBIT = frozenset({"ratio"})

TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def known_for(kind: str | None) -> list[str]:
    """The placeholders a notice of this kind fills (None: any kind's)."""
    if kind is None:
        return list(PLACEHOLDERS)
    excluded = CALL_ONLY if kind in RECOVERY_KINDS else RECOVERY_ONLY
    if kind == "debit":
        excluded = excluded | NOT_IN_DEBIT
    return [name for name in PLACEHOLDERS if name not in excluded]


def named(text: str) -> set[str]:
    """The placeholders a text names (``{{`` and ``}}`` are literal braces, not placeholders)."""
    return {match.group(1) for match in TOKEN.finditer(text) if match.group(1) is not None}


class TemplateError(ValueError):
    """A text that names what no notice can fill, or has an unmatched brace."""


def check(text: str, kind: str | None = None) -> None:
    """Refuse a text with an unknown placeholder, one a notice of ``kind`` does not fill (a stock to
    recover in a call's notice, say), or a stray brace, naming it."""
    known = known_for(kind)
    for match in TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise TemplateError(_("A lone “%(brace)s”: write {{ or }} for a brace.") % {"brace": token})
        if match.group(1) not in known:
            values = {"name": match.group(1)[:40], "known": ", ".join(f"{{{name}}}" for name in known)}
            if match.group(1) in NOT_IN_DEBIT and kind == "debit":
                raise TemplateError(
                    _(
                        "{%(name)s} is not filled in a debit notice: a debit call has no net asset ratio. "
                        "Known here: %(known)s."
                    )
                    % values
                )
            if match.group(1) in PLACEHOLDERS:
                about = _("stock recovery") if match.group(1) in RECOVERY_ONLY else _("a margin call")
                raise TemplateError(
                    _("{%(name)s} is filled only in a notice about %(about)s. Known here: %(known)s.")
                    % {**values, "about": about}
                )
            raise TemplateError(_("Unknown placeholder {%(name)s}. Known: %(known)s.") % values)


def fill(text: str, values: Mapping[str, str], *, html: bool = False) -> str:
    """The text with its placeholders replaced by their values (escaped for HTML when ``html``); the
    rest of the text is escaped too when ``html``. The text must pass :func:`check`."""
    out = []
    position = 0
    for match in TOKEN.finditer(text):
        out.append(escape(text[position : match.start()]) if html else text[position : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            out.append(token[0])
        else:
            value = str(values.get(match.group(1), ""))
            out.append(escape(value) if html else value)
        position = match.end()
    out.append(escape(text[position:]) if html else text[position:])
    return "".join(out)
