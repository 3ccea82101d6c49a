"""Covered-call cases as a live feed (:mod:`console.push`): Covered Call Recovery follows them as
positions change (an import, a fill), not with prices."""

from console import push

from .models import CoveredCallCase


def _changes_of(case_ids: list[int]) -> list[push.Change]:
    return [
        (pk, "case", desk)
        for pk, desk in CoveredCallCase.objects.filter(pk__in=case_ids).values_list("pk", "account__desk_id")
    ]


def _changed_since(moment) -> list[tuple]:
    return [
        (pk, "case", desk, updated_at)
        for pk, desk, updated_at in CoveredCallCase.objects.filter(updated_at__gt=moment).values_list(
            "pk", "account__desk_id", "updated_at"
        )
    ]


CASES = push.Feed("cases", changes_of=_changes_of, changed_since=_changed_since)


def publish(case_ids) -> None:
    push.publish(CASES, case_ids)
