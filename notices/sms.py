"""How many messages an SMS text goes out as (3GPP TS 23.038 and 23.040), told to the desk before it
sends and to risk admins as they write a template: a text past one message is sent, and paid for, as
several.

A text in the GSM 7-bit alphabet fits 160 characters in one message; a character of its extension
table (``€``, ``[``, ``{`` ...) takes two. Any other character (Chinese, an emoji) sends the whole text
in UCS-2: 70 units in one message, a character outside the Basic Multilingual Plane taking two. A text
longer than one message is split into parts of 153 (GSM) or 67 (UCS-2) units, each carrying a header
that joins them; a character is never split across two parts."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext, ngettext

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")  # an escape, then the character: two septets

GSM = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM: 160, UCS2: 70}  # units in a message sent alone
PART = {GSM: 153, UCS2: 67}  # units in each part of a longer one


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # GSM or UCS2
    units: int  # septets (GSM) or UTF-16 code units (UCS-2)
    parts: int  # messages sent; 0 for an empty text


def _cost(char: str, encoding: str) -> int:
    if encoding == GSM:
        return 2 if char in GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def size(text: str) -> SmsSize:
    encoding = GSM if all(char in GSM_BASIC or char in GSM_EXTENDED for char in text) else UCS2
    costs = [_cost(char, encoding) for char in text]
    units = sum(costs)
    if units <= SINGLE[encoding]:
        return SmsSize(encoding, units, 1 if units else 0)
    parts, filled = 1, 0
    for cost in costs:
        if filled + cost > PART[encoding]:
            parts, filled = parts + 1, 0
        filled += cost
    return SmsSize(encoding, units, parts)


def describe(text: str) -> str:
    """The size of an SMS text in the desk's words: ``95 characters: sent as 2 SMS messages ...``."""
    found = size(text)
    if found.parts <= 1:
        return ngettext(
            "%(characters)d character: one SMS message", "%(characters)d characters: one SMS message", len(text)
        ) % {"characters": len(text)}
    alphabet = gettext("GSM alphabet") if found.encoding == GSM else gettext("Unicode, as for Chinese")
    return gettext(
        "%(characters)d characters: sent as %(parts)d SMS messages of up to %(part)d each (%(alphabet)s)"
    ) % {"characters": len(text), "parts": found.parts, "part": PART[found.encoding], "alphabet": alphabet}
