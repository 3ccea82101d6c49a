"""The simulated exchange's work on the worker (liquidation/gateway.py)."""

from __future__ import annotations

import logging
import math

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone, translation

from book.trading_calendar import is_trading

from . import services
from .models import Order, Side

logger = logging.getLogger(__name__)

PART_LOTS = 10  # an order above this many lots fills in parts
WAIT_SECONDS = 30  # outside a session, or while the price is beyond the limit, look again after this


@shared_task(ignore_result=True)
def simulate_exchange(order_id: int) -> None:
    order = Order.objects.select_related("instrument").filter(pk=order_id).first()
    if order is None or not order.is_working:
        return
    instrument = order.instrument
    if instrument.status != "normal":
        services.mark_rejected(order_id, f"{instrument.symbol} is {instrument.status}: the exchange takes no order")
        return
    now = timezone.now()
    if not settings.SIMULATED_EXCHANGE_ALWAYS_OPEN and not is_trading(now):
        simulate_exchange.apply_async((order_id,), countdown=WAIT_SECONDS)
        return
    price = instrument.price
    if order.limit_price is not None and (
        (order.side == Side.SELL and price < order.limit_price)
        or (order.side == Side.BUY and price > order.limit_price)
    ):
        simulate_exchange.apply_async((order_id,), countdown=WAIT_SECONDS)
        return
    lot = instrument.lot_size
    remaining = order.remaining
    part = remaining
    if remaining > PART_LOTS * lot:
        part = max(lot, math.ceil(remaining / 2 / lot) * lot)
    services.record_fill(order_id, part, price, now, reference=f"sim-{order_id}-{order.filled_quantity}")
    if part < remaining:
        simulate_exchange.apply_async((order_id,), countdown=settings.SIMULATED_FILL_DELAY_SECONDS)


@shared_task(ignore_result=True)
def auto_liquidate() -> dict:
    from . import auto

    return auto.run()


BATCH_CHUNK = 100
# A batch item's outcome: one of these (shown in the reader's language), or why its orders were refused.
PLACED, CLOSED = "placed", "closed"


@shared_task(ignore_result=True)
def run_batch(batch_id: int) -> None:
    """Liquidate a batch's calls by their plans, a chunk at a time, recording each call's outcome and the
    progress as it goes. Run twice, it does only what is not done (and the orders' keys forbid twice)."""

    from .models import Batch, BatchStatus

    batch = Batch.objects.select_related("created_by").filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.RUNNING:
        return
    with translation.override(batch.language):
        _run_batch(batch)


def _run_batch(batch) -> None:
    from django.db import transaction

    from .models import Batch, BatchItem, BatchStatus

    try:
        while True:
            items = list(
                BatchItem.objects.filter(batch=batch, done=False).select_related("call__account")[:BATCH_CHUNK]
            )
            if not items:
                break
            with transaction.atomic():
                open_items = [item for item in items if item.call.is_open]
                requests = services.liquidate_calls(
                    user=batch.created_by,
                    accounts=[item.call.account for item in open_items],
                    only=batch.only or None,
                    key=f"batch-{batch.key}",
                )
                outcomes = {request.account.pk: request for request in requests}
                placed = 0
                for item in items:
                    request = outcomes.get(item.call.account_id) if item.call.is_open else None
                    item.done = True
                    if request is None:
                        item.outcome = CLOSED
                    elif request.orders:
                        item.orders = len(request.orders)
                        placed += item.orders
                        item.outcome = PLACED
                    else:
                        item.outcome = (request.refused or "")[:500]
                BatchItem.objects.bulk_update(items, ["done", "orders", "outcome"])
                Batch.objects.filter(pk=batch.pk).update(done=F("done") + len(items), orders=F("orders") + placed)
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, finished_at=timezone.now())
    except Exception as error:
        logger.exception("liquidation batch %s failed", batch.pk)
        Batch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {error}"[:2000]
        )
