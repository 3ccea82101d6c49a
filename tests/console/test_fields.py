"""The console's form fields."""

import pytest


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("2026-12-10", "Enter a time as well as the date."),
        ("2026-12-10+08:00", "Enter a time as well as the date."),
        ("abc", "Enter a valid date/time."),  # not a date at all: not told to add a time
        ("2026-12-10T16:00", None),
        ("2026-12-10T16:00:30+08:00", None),
        ("20261210T1600", None),
    ],
)
def test_a_date_and_time_box_wants_the_time(typed, error):
    from django import forms

    from console.fields import DateTimeField

    field = DateTimeField()
    if error is None:
        assert field.clean(typed).tzinfo is not None
    else:
        with pytest.raises(forms.ValidationError) as refused:
            field.clean(typed)
        assert refused.value.messages == [error]
