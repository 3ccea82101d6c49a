"""Text: what may be stored, and how a message, a log line or a file quotes it."""

import re
import string
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _


def printable(text: str) -> str:
    """``text`` safe to print on one line and to encode: every character that is not printable
    (controls, line breaks, lone surrogates, ...) becomes an escape such as ``\\x00`` or ``\\ud800``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# Characters no stored text may hold: the C0 controls (NUL among them), DEL, the C1 controls, lone
# surrogates (not Unicode at all; PostgreSQL cannot store them and UTF-8 cannot encode them), and the
# bidirectional overrides and isolates, which make text show in another order than it is (an account
# number that reads as another).
FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# Free text (a remark, a reason) may also hold tabs and line breaks.
FORBIDDEN_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# What a form's bytes that were not UTF-8 are read as (Django decodes a form's values with replacement):
# a form refuses it, as the JSON APIs refuse bytes that are not UTF-8. Text from another system (a
# gateway's error) may hold it as it was sent.
REPLACEMENT = "\ufffd"


def forbidden_character(text: str, *, free_text: bool = False, typed: bool = False) -> str | None:
    """The first character of ``text`` that no stored text may hold, or None. Free text may hold tabs
    and line breaks; names, symbols and other identifiers may not. Text ``typed`` in a form may not hold
    :data:`REPLACEMENT` either."""
    found = (FORBIDDEN_IN_FREE_TEXT if free_text else FORBIDDEN).search(text)
    if found:
        return found.group()
    return REPLACEMENT if typed and REPLACEMENT in text else None


# What is taken off the ends of a name, symbol or remark without a word: the spaces, tabs and line breaks
# a person types or a file carries around a value. Other characters Python counts as whitespace there
# (vertical tab and form feed, the information separators U+001C to U+001F, NEL U+0085) are controls,
# named as any other.
EDGE_SPACE = " \t\r\n"


def edge_forbidden(text: str, *, free_text: bool = False, typed: bool = False) -> str | None:
    """:func:`forbidden_character` of ``text`` as it is stored: stripped of :data:`EDGE_SPACE` only, so a
    control character that a strip would take off the end is named, not dropped."""
    return forbidden_character(text.strip(EDGE_SPACE), free_text=free_text, typed=typed)


def character_name(char: str) -> str:
    """What a forbidden character is, for a message: ``a NUL character (U+0000)``."""
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return f"a NUL character ({code})"
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate ({code}), which is not Unicode text"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return f"a bidirectional override ({code}), which shows text in another order"
    if char == "\ufffd":
        return f"a replacement character ({code}), which stands for bytes that were not UTF-8"
    return f"a control character ({code})"


# What an address (an email, a gateway's URL) cannot hold anywhere: controls, formatting and invisible
# characters (a zero-width space, a bidirectional mark), spaces and other separators (a full-width space
# an input method leaves), surrogates, private and unassigned code points, and the letters and marks
# that show as nothing (the Hangul fillers, the blank Braille pattern, the combining grapheme joiner).
# Sent on, such an address fails (an email's domain is refused by IDNA) or reaches somewhere other than
# it reads (U+3164 in a domain is sent to an xn-- name; the zero-width joiners, which IDNA 2008 lets an
# Indic name hold, are dropped by the IDNA 2003 encoding mail is sent with, so the mail would go to the
# name without them).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
SHOWN_AS_NOTHING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180e\ufffc")


def hidden_in_address(text: str) -> str | None:
    """The first character of an address that no address may hold, or None."""
    for char in text:
        if char == REPLACEMENT or char in SHOWN_AS_NOTHING or unicodedata.category(char) in HIDDEN_CATEGORIES:
            return char
    return None


def validate_address(value: str) -> None:
    """Refuse an address holding a character it cannot (:func:`hidden_in_address`), naming it."""
    if char := hidden_in_address(value):
        raise ValidationError(
            _("Contains %(char)s, which an address cannot hold: type it again."),
            code="hidden_character",
            params={"char": f"U+{ord(char):04X}"},
        )


def blank(text: str) -> bool:
    """Whether ``text`` shows nothing: spaces, line breaks and invisible characters (a zero-width space,
    a byte order mark) only. Such a reason or remark says nothing and is taken as none."""
    return all(char.isspace() or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp") for char in text)


_ASCII_CAPITALS = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def fold(key: str) -> str:
    """A key as it is compared for being the same in other capitals: its ASCII letters in capitals, as
    every database's UPPER() folds them (m100001 and M100001 are one key). Other letters are compared as
    they are here; PostgreSQL's UPPER() also folds some of them, and its unique index refuses what this
    does not see."""
    return key.translate(_ASCII_CAPITALS)


def key_problem(text: str) -> tuple[str, str] | None:
    """Why ``text`` cannot be a key a person reads and types (an account number, a symbol, a desk's code):
    ``(what, the character or plain form)``, or None when it can. A key is written in its plain form: no
    invisible characters (``invisible``), no marks laid over another character (``mark``), no full-width or
    other compatibility forms, ``１`` for ``1`` (``form``), so that two keys that look alike are one key;
    and no part of it between slashes is ``.`` or ``..`` (``dots``), which a browser reads as a step up
    in a link. :data:`KEY_PROBLEMS` says each in English."""
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            return "invisible", f"U+{ord(char):04X}"
        if category in ("Mn", "Me"):
            return "mark", f"U+{ord(char):04X}"
    plain = unicodedata.normalize("NFKC", text)
    if plain != text:
        return "form", printable(plain)
    if any(part in (".", "..") for part in text.split("/")):
        return "dots", ""
    if any(char.isascii() and char.isalnum() for char in text):
        # Latin letters or digits beside Greek or Cyrillic ones: М100001 (a Cyrillic Em) reads as
        # M100001 and is another key.
        for char in text:
            if LOOK_ALIKE_SCRIPTS.match(char):
                return "script", f"U+{ord(char):04X}"
    for char in text:
        if char in DASHES:  # price–feed (an en dash) reads as price-feed, another key
            return "dash", f"U+{ord(char):04X}"
    letters = [char for char in text if char.isalpha()]
    if letters and all(char in LATIN_LOOK_ALIKES for char in letters):
        # Greek or Cyrillic letters that each look like a Latin one: НК (Cyrillic) reads as HK.
        return "reads_as", "".join(LATIN_LOOK_ALIKES.get(char, char) for char in text)
    return None


# Scripts whose capitals look like Latin ones (А В Е К М Н О Р С Т Х; Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ).
LOOK_ALIKE_SCRIPTS = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u1f00-\u1fff]")
# Dashes and minus signs drawn as the hyphen-minus (-) a key is typed with.
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63")
# Greek and Cyrillic letters drawn as a Latin one in common fonts (Unicode's confusables, letter to letter).
LATIN_LOOK_ALIKES = dict(
    zip(
        "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοναικρАВЕЅІЈКМНОРСТУХҮҺӀԚԜаеһіјорсѕухԁԛԝӏ",
        "ABEZHIKMNOPTYXovaikpABESIJKMHOPCTYXYhIQWaehijopcsyxdqwl",
        strict=True,
    )
)


KEY_PROBLEMS = {
    "invisible": "contains an invisible character ({})",
    "mark": "contains a mark laid over another character ({})",
    "form": "must be written in its plain form ({!r})",
    "dots": "has . or .. between slashes{}",
    "script": "mixes a Greek or Cyrillic letter ({}) with Latin letters or digits, which it can look like",
    "reads_as": "is written in Greek or Cyrillic letters that look like Latin ones: it reads as {!r}",
    "dash": "contains a dash that looks like a hyphen ({}): write -",
}


def validate_key(value: str) -> None:
    """A desk's code, a symbol, an account number or a username is a key a person reads and types (see
    :func:`key_problem`)."""
    problem = key_problem(value)
    if problem is None:
        return
    what, detail = problem
    messages = {
        "invisible": _("Contains an invisible character (%(detail)s)."),
        "mark": _("Contains a mark laid over another character (%(detail)s)."),
        "form": _("Write it in its plain form: %(detail)s."),
        "dots": _("No part of it between slashes may be . or .."),
        "script": _(
            "Mixes a Greek or Cyrillic letter (%(detail)s) with Latin letters or digits, which it can look like."
        ),
        "reads_as": _("Is written in Greek or Cyrillic letters that look like Latin ones: it reads as %(detail)s."),
        "dash": _("Contains a dash that looks like a hyphen (%(detail)s): write -"),
    }
    raise ValidationError(messages[what], code="key", params={"detail": detail})


def first_few(names, shown: int = 5, separator: str = ", ") -> str:
    """Names for a message: the first ``shown`` of them, and "…" when there are more."""
    names = list(names)
    return separator.join(str(name) for name in names[:shown]) + (f"{separator}…" if len(names) > shown else "")


class Said:
    """A sentence the system writes for people to read later (why a batch's orders were refused, what
    auto-liquidation did): kept as its message and values until it is read, it reads in the language
    active then, and is stored as every language's text (:func:`every_language`, read back by
    :func:`read`), so each reader reads it in their own language, whoever wrote it."""

    __slots__ = ("_render",)

    def __init__(self, render: Callable[[], str]):
        self._render = render

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"Said({str(self)!r})"

    def __eq__(self, other) -> bool:
        return str(self) == str(other) if isinstance(other, (Said, str)) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


def say(message, /, **values) -> Said:
    """``message`` (a ``gettext_lazy`` or ``ngettext_lazy`` text) with these values, in the language it
    is read in; a value that is itself :class:`Said` is read in the same language."""
    if not values:
        return Said(lambda: str(message))
    return Said(lambda: str(message % {name: str(v) if isinstance(v, Said) else v for name, v in values.items()}))


def joined(*parts, separator: str = " ") -> Said:
    """Sentences or clauses (each :class:`Said` or a plain string) read one after the other."""
    return Said(lambda: separator.join(str(part) for part in parts))


def every_language(text) -> dict[str, str]:
    """``text`` as each of the console's languages reads it, by language code (a plain string reads the
    same in each)."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = str(text)
    return texts


def read(texts) -> str:
    """What :func:`every_language` stored, in the reader's language; one written before the other
    languages were kept (a plain string, or one language only) as it was written."""
    if not texts:
        return ""
    if isinstance(texts, str):
        return texts
    language = (translation.get_language() or settings.LANGUAGE_CODE).lower()
    return texts.get(language) or texts.get(settings.LANGUAGE_CODE) or next(iter(texts.values()), "")
