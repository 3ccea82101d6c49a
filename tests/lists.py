"""What list pages show, for the tests of each list."""

from datetime import datetime

# Either side of Hong Kong's midnight starting 2026-12-23 (16:00 UTC).
LAST_MOMENT_OF_THE_22ND = datetime.fromisoformat("2026-12-22T15:59:59.999999+00:00")
FIRST_MOMENT_OF_THE_23RD = datetime.fromisoformat("2026-12-22T16:00:00+00:00")


def check_days_are_hong_kong_days(client, url: str, early, late, field: str) -> None:
    """Stamp two rows either side of Hong Kong's midnight in ``field``: the list's ``day`` filter shows
    each on its own Hong Kong day, and neither on the calendar's first or last day."""
    rows = type(early).objects
    rows.filter(pk=early.pk).update(**{field: LAST_MOMENT_OF_THE_22ND})
    rows.filter(pk=late.pk).update(**{field: FIRST_MOMENT_OF_THE_23RD})

    def shown(day):
        page = client.get(url, {"day": day})
        assert not page.context["form"].errors
        return [row.pk for row in page.context["rows"]]

    assert shown("2026-12-22") == [early.pk]
    assert shown("2026-12-23") == [late.pk]
    assert shown("0001-01-01") == shown("9999-12-31") == []
