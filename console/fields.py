"""Form fields that read numbers, dates and row ids as the console does everywhere (the admin included),
and a refused form's errors as one line."""

import datetime as dt
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from .text import blank, edge_forbidden, printable

# A row id as the pages send it: ASCII digits, at most 18 of them (a 64-bit key).
ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str) -> int | None:
    """A call's id from a query or a form, or None: '²', '٣', '-1' or 5,000 digits are not ids."""
    return int(text) if ID.fullmatch(text) else None


OUT_OF_DATE = _("The form is out of date: reload the page and try again.")
LONGEST_ERROR = 200  # characters of one error in a message: a refused value may be quoted whole


def form_errors(form, *, ignore: tuple[str, ...] = ()) -> str:
    """A refused form's errors as one line for a message and the audit log: each named by its field's
    label where it has one (in the page's language), a hidden form key's as the form being out of date,
    none longer than LONGEST_ERROR characters, printable (an error may quote a value with a NUL, which
    the log's JSON cannot hold)."""
    parts = []
    for name, errors in form.errors.items():
        if name in ignore:
            continue
        if name == "key":
            parts.append(str(OUT_OF_DATE))
            continue
        label = form.fields[name].label if name in form.fields else None  # a field given a label only
        said = [
            str(error) if len(str(error)) <= LONGEST_ERROR else str(error)[: LONGEST_ERROR - 1] + "…"
            for error in errors
        ]
        if label:  # a field's errors after its label once: "Ratio from (%): Enter a number. The list is …"
            parts.append(_("%(label)s: %(error)s") % {"label": label, "error": " ".join(dict.fromkeys(said))})
        else:
            parts += said
    return printable("; ".join(dict.fromkeys(parts)))


class AsciiMixin:
    """Numbers and dates in ASCII digits only: '٣' or '１' is refused rather than read as 3 or 1, and a
    control character (a NUL after a date, say) is refused rather than skipped."""

    def to_python(self, value):
        if isinstance(value, str) and not (value.isascii() and value.isprintable()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IntegerField(AsciiMixin, forms.IntegerField):
    """A whole number as typed: "100.0" is refused (Django reads it as 100), as the liquidation form's
    quantities are: a quantity with a decimal point was not typed as a whole number of shares."""

    def to_python(self, value):
        if isinstance(value, str) and "." in value:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DecimalField(AsciiMixin, forms.DecimalField):
    pass


class DateField(AsciiMixin, forms.DateField):
    pass


# The widest offsets any place keeps (UTC-12:00 to UTC+14:00); Python reads up to 23:59:59.999999 either
# way, which a database cannot store.
LARGEST_OFFSET = dt.timedelta(hours=14)


def has_impossible_offset(moment: dt.datetime) -> bool:
    """Whether an aware time's offset from UTC is one no place keeps: beyond 14 hours, or, written in
    the value, not in whole minutes (Python reads "+08:00:30", which ISO 8601 does not write; a zone's
    own history may have seconds, as Hong Kong's local mean time of 1904 does)."""
    offset = moment.utcoffset()
    if offset is None:
        return False
    written = isinstance(moment.tzinfo, dt.timezone)
    return abs(offset) > LARGEST_OFFSET or (written and offset % dt.timedelta(minutes=1) != dt.timedelta(0))


# A zone at the end of a value: Python reads "2026-12-10+08:00" as 08:00 on that day.
TRAILING_ZONE = re.compile(r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$", re.IGNORECASE)


def date_alone(value: str) -> bool:
    """Whether this text is a date with no time (with or without a zone), which Python would read as
    a time it does not say: its midnight, or the zone's hours."""
    text = value.strip()
    for candidate in (text, TRAILING_ZONE.sub("", text)):  # "2026-12-10" ends as a zone would
        try:
            dt.date.fromisoformat(candidate)
        except ValueError:
            continue
        return True
    return False


class DateTimeField(AsciiMixin, forms.DateTimeField):
    """A date and time; one with an offset from UTC no place keeps (Python reads up to 23:59, a database
    stores less) is refused, and any other is held in UTC."""

    def to_python(self, value):
        if isinstance(value, str) and date_alone(value):
            # Python reads a date alone as its midnight: a time to act at is given, never guessed.
            raise forms.ValidationError(_("Enter a time as well as the date."), code="no_time")
        moment = super().to_python(value)
        if moment is not None and has_impossible_offset(moment):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if moment is None:
            return None
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:  # at the calendar's edge: the form's own range check names it
            return moment


class TimeField(AsciiMixin, forms.TimeField):
    pass


class SplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date and time boxes, each read in ASCII digits only."""

    def clean(self, value):
        if isinstance(value, list | tuple):
            for part, code in zip(value, ("invalid_date", "invalid_time"), strict=False):
                if isinstance(part, str) and not (part.isascii() and part.isprintable()):
                    raise forms.ValidationError(self.error_messages[code], code=code)
        return super().clean(value)


# What a tick box's value may be: ticked (as a browser sends it, "on", or as a link writes it) or not.
TICKED = frozenset({"on", "1", "true", "yes"})
UNTICKED = frozenset({"", "0", "false", "off", "no"})


def _ticked(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in TICKED)


class TickBox(forms.CheckboxInput):
    """A tick box whose value reaches its field as sent (Django's reads any text but "false" as ticked),
    drawn ticked only for a ticked value."""

    def __init__(self, attrs=None):
        super().__init__(attrs, check_test=_ticked)

    def value_from_datadict(self, data, files, name):
        return data.get(name)

    def format_value(self, value):
        return None  # no value attribute: ticked, a browser sends "on", whatever value came in


class BoxField(forms.BooleanField):
    """One tick box: ticked ("on", as a browser sends it, or 1/true), not ticked (absent, empty, 0/false);
    any other value is named and refused, never read as ticked ("?overdue=0" is not a filter on)."""

    widget = TickBox
    default_error_messages = {"invalid": _("Not a tick-box value: %(value)s")}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is None or value is False or (isinstance(value, str) and value.lower() in UNTICKED):
            return False
        if _ticked(value):
            return True
        raise forms.ValidationError(
            self.error_messages["invalid"], code="invalid", params={"value": printable(str(value))[:40]}
        )

    def has_changed(self, initial, data):
        try:
            return super().has_changed(initial, data)
        except forms.ValidationError:  # a value that is no tick is a change (the form names it)
            return True


class TickedField(forms.MultipleChoiceField):
    """Boxes ticked from a list of choices. An empty value (a box's value left blank) is no choice, so
    nothing ticked says "required"; a value that is no choice is named, printable."""

    default_error_messages = {"invalid_choice": _("Not one of the choices: %(value)s")}

    def to_python(self, value):
        return [item for item in super().to_python(value) if item.strip()]

    def validate(self, value):
        try:
            super().validate(value)
        except forms.ValidationError as error:
            if error.code == "invalid_choice":
                error.params = {"value": printable(str(error.params["value"]))[:40]}
            raise


class StoredTextField(forms.CharField):
    """Text a form stores (the console's, the admin's): no character that no
    stored text may hold (see :func:`console.text.forbidden_character`); only invisible characters is
    no text at all (refused where text is required)."""

    free_text = False  # a remark or a reason may also hold tabs and line breaks

    def __init__(self, *, free_text: bool | None = None, **kwargs):
        if free_text is not None:
            self.free_text = free_text
        super().__init__(**kwargs)

    def to_python(self, value):
        # Named before the strip, which would take a control character off an end ("\x1f") unsaid.
        if isinstance(value, str) and (char := edge_forbidden(value, free_text=self.free_text, typed=True)):
            if char == "\ufffd":  # what a request's bytes that are not UTF-8 are read as
                raise forms.ValidationError(
                    _("Contains U+FFFD, which stands for bytes that were not UTF-8 text: type it again."),
                    code="forbidden_character",
                )
            raise forms.ValidationError(
                _("Contains a character that is not allowed (%(char)s)."),
                code="forbidden_character",
                params={"char": f"U+{ord(char):04X}"},
            )
        if self.free_text and isinstance(value, str):
            # A browser sends each line break as CR LF, and counts it as one character against the box's
            # maxlength: as one it is kept, and counted against the field's.
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        value = super().to_python(value)
        if isinstance(value, str) and blank(value):
            return self.empty_value  # only invisible characters: nothing said
        return value
