import pytest

from console.text import first_few


@pytest.mark.parametrize(
    ("names", "shown", "separator", "said"),
    [
        (["M1", "M2"], 5, ", ", "M1, M2"),
        ([f"M{n}" for n in range(1, 8)], 5, ", ", "M1, M2, M3, M4, M5, …"),
        (["M1: too large", "M2: no FX rate"], 1, "; ", "M1: too large; …"),
        ([], 5, ", ", ""),
    ],
)
def test_a_message_names_the_first_few_and_says_when_there_are_more(names, shown, separator, said):
    assert first_few(iter(names), shown, separator) == said
