"""Form fields that read numbers and dates as the console does everywhere, the admin included."""

from django import forms


class AsciiMixin:
    """Numbers and dates in ASCII digits only: '٣' or '１' is refused rather than read as 3 or 1, and a
    control character (a NUL after a date, say) is refused rather than skipped."""

    def to_python(self, value):
        if isinstance(value, str) and not (value.isascii() and value.isprintable()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IntegerField(AsciiMixin, forms.IntegerField):
    pass


class DecimalField(AsciiMixin, forms.DecimalField):
    pass


class DateField(AsciiMixin, forms.DateField):
    pass


class DateTimeField(AsciiMixin, forms.DateTimeField):
    pass


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
