"""Liquidation orders as a live feed (:mod:`console.push`): the Liquidation Orders page follows every
order of the user's desks, a call's details follow that call's orders. A change's kind is the order's
call id (``""`` for an order without a call)."""

from django.db.models import CharField, Value
from django.db.models.functions import Cast, Coalesce

from console import push

from .models import Order


def _rows(orders):
    call = Coalesce(Cast("call_id", CharField()), Value(""))
    return orders.annotate(call_key=call)


def _changes_of(order_ids: list[int]) -> list[push.Change]:
    return list(_rows(Order.objects.filter(pk__in=order_ids)).values_list("pk", "call_key", "desk_id"))


def _changed_since(moment) -> list[tuple]:
    return list(
        _rows(Order.objects.filter(updated_at__gt=moment)).values_list("pk", "call_key", "desk_id", "updated_at")
    )


ORDERS = push.Feed("orders", changes_of=_changes_of, changed_since=_changed_since)


def publish(order_ids) -> None:
    """Tell open pages these orders changed. Call after the change is committed."""
    push.publish(ORDERS, order_ids)
