"""The simulated exchange's work on the worker (liquidation/gateway.py)."""

from __future__ import annotations

import logging
import math

from celery import shared_task
from django.conf import settings
from django.utils import timezone

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
