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


def test_an_audit_entry_is_named_by_its_time_in_hong_kong_as_its_time_field_shows_it():
    import datetime as dt

    from console.models import AuditEntry

    entry = AuditEntry(at=dt.datetime(2026, 12, 7, 9, 10, 50, tzinfo=dt.UTC), action="cancel_order", outcome="ok")

    assert str(entry) == "2026-12-07 17:10:50 cancel_order ok"
