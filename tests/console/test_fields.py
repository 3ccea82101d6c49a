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


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("M100001", None),
        ("\u041c100001", ("script", "U+041C")),  # a Cyrillic Em beside digits reads as M100001
        ("0700.HK\u0399", ("script", "U+0399")),  # a Greek Iota after Latin letters
        ("\u0416\u0423\u041a", None),  # ЖУК: Cyrillic with a letter unlike any Latin one reads as itself
        ("\u041d\u041a", ("reads_as", "HK")),  # НК: each Cyrillic letter looks like a Latin one
        ("\u039a\u039f.\u0397\u039a", ("reads_as", "KO.HK")),  # Greek likewise, beside what is no letter
        ("\u043e\u0440", ("reads_as", "op")),  # small letters too
        ("price\u2013feed", ("dash", "U+2013")),  # an en dash reads as price-feed
        ("\u9999\u6e2f1", None),  # Chinese beside a digit looks like nothing Latin
    ],
)
def test_a_key_mixing_a_look_alike_script_with_latin_is_named(key, problem):
    from console.text import key_problem

    assert key_problem(key) == problem
