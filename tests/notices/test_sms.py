"""The size of an SMS text: how many messages it goes out as."""

import pytest
from django.utils import translation

from notices import sms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (sms.GSM, 0, 0)),
        ("a" * 160, (sms.GSM, 160, 1)),
        ("a" * 161, (sms.GSM, 161, 2)),  # then parts of 153
        ("a" * 306, (sms.GSM, 306, 2)),
        ("a" * 307, (sms.GSM, 307, 3)),
        ("€" * 80, (sms.GSM, 160, 1)),  # an extension character takes two septets
        ("a" * 152 + "€" + "a" * 152, (sms.GSM, 306, 3)),  # ... and is not split across two parts
        ("長" * 70, (sms.UCS2, 70, 1)),
        ("長" * 71, (sms.UCS2, 71, 2)),  # then parts of 67
        ("a" * 133 + "長", (sms.UCS2, 134, 2)),  # one character outside the GSM alphabet: all in UCS-2
        ("長" * 135, (sms.UCS2, 135, 3)),
        ("😀" * 35, (sms.UCS2, 70, 1)),  # outside the Basic Multilingual Plane: two units
        ("長" * 66 + "😀" + "長" * 66, (sms.UCS2, 134, 3)),  # a pair is not split
    ],
)
def test_the_size_of_a_text(text, expected):
    found = sms.size(text)
    assert (found.encoding, found.units, found.parts) == expected


def test_the_size_in_the_desks_words():
    with translation.override("en"):
        assert sms.describe("Pay now") == "7 characters: one SMS message"
        assert sms.describe("長" * 71) == (
            "71 characters: sent as 2 SMS messages of up to 67 each (Unicode, as for Chinese)"
        )
