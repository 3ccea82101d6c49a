"""Margin calls as a live feed (:mod:`console.push`): open Risk Warning and Intraday pages follow
their changes."""

from console import push

from .models import MarginCall


def _changes_of(call_ids: list[int]) -> list[push.Change]:
    return list(MarginCall.objects.filter(pk__in_ids=call_ids).values_list("pk", "kind", "desk_id"))


def _changed_since(moment) -> list[tuple]:
    return list(MarginCall.objects.filter(updated_at__gt=moment).values_list("pk", "kind", "desk_id", "updated_at"))


CALLS = push.Feed("calls", changes_of=_changes_of, changed_since=_changed_since)


def publish(call_ids) -> None:
    """Tell open pages these calls changed. Call after the change is committed."""
    push.publish(CALLS, call_ids)


def hub() -> push.Hub:
    return push.hub(CALLS)
