"""The simulated exchange's work on the worker (liquidation/gateway.py)."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from book.models import Position
from book.trading_calendar import is_trading
from console.locks import atomic_again
from console.queue import QUEUE_AWAY
from console.text import every_language

from . import services
from .models import WORKING, Order, OrderStatus, Side

logger = logging.getLogger(__name__)
alerts = logging.getLogger("margincall.alerts")

PART_LOTS = 10  # an order above this many lots fills in parts, one part a turn
AT_THE_EXCHANGE = (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)  # a pending order is not there yet
TURN_LIMIT = 1000  # orders looked at in one turn (the oldest first); the rest wait for the next


@shared_task(ignore_result=True)
def simulate_exchange() -> int:
    """The simulated exchange's turn (beat runs it every second): each working order left alone for
    ``SIMULATED_FILL_DELAY_SECONDS`` is rejected (its instrument cannot trade), filled at the current
    price (a large one in parts, one part a turn), or left to wait while the price is beyond its limit.
    Outside XHKG sessions nothing trades (``SIMULATED_EXCHANGE_ALWAYS_OPEN`` opens it at any time).
    Nothing to do when another gateway takes the orders. Returns how many orders it moved."""
    from .gateway import SimulatedExchange, get

    if not isinstance(get(), SimulatedExchange):
        return 0
    now = timezone.now()
    if not settings.SIMULATED_EXCHANGE_ALWAYS_OPEN and not is_trading(now):
        return 0
    due = now - timedelta(seconds=settings.SIMULATED_FILL_DELAY_SECONDS)
    orders = list(
        Order.objects.filter(status__in=AT_THE_EXCHANGE, updated_at__lte=due)
        .select_related("instrument")
        .order_by("updated_at", "pk")[:TURN_LIMIT]
    )
    book = _Positions(orders)
    moved = 0
    # First the orders the exchange takes no more of (their instrument cannot trade, their position no
    # longer holds them): an odd lot is then judged by the orders left working beside it.
    taken = []
    for order in orders:
        if why := book.refused(order, now):
            moved += _reject(order, why, book)
        else:
            taken.append(order)
    for order in taken:  # one order that fails is said, and the others still trade
        try:
            moved += _turn(order, now, book)
        except services.FillTooLarge as error:
            moved += _reject(order, f"the exchange's fill cannot be booked: {error}", book)
        except Exception:
            logger.exception("the simulated exchange's turn of order %s failed; the other orders go on", order.pk)
    return moved


def _reject(order: Order, why: str, book: _Positions) -> bool:
    rejected = services.mark_rejected(order.pk, why)
    if rejected:
        book.dropped(order)
    return rejected


class _Positions:
    """What the turn's orders' positions hold and what their working orders trade, per side, read in
    two queries and followed as the turn fills them."""

    def __init__(self, orders: list[Order]):
        accounts = {order.account_id for order in orders}
        instruments = {order.instrument_id for order in orders}
        self.held = {
            (account, instrument): quantity
            for account, instrument, quantity in Position.objects.filter(
                account_id__in=accounts, instrument_id__in=instruments
            ).values_list("account_id", "instrument_id", "quantity")
        }
        self.working = {
            (row["account_id"], row["instrument_id"], row["side"]): row["rest"]
            for row in Order.objects.filter(account_id__in=accounts, instrument_id__in=instruments, status__in=WORKING)
            .values("account_id", "instrument_id", "side")
            .annotate(rest=Sum(F("quantity") - F("filled_quantity")))
        }

    def _holds(self, order: Order) -> tuple[int, str]:
        return services.held_on_side(self.held.get((order.account_id, order.instrument_id), 0), order.side)

    def refused(self, order: Order, now) -> str:
        """Why the exchange takes no more of this order ("" when it may): its instrument cannot trade (not
        normal, an option past its expiry day), or its position no longer holds what it still trades."""
        instrument = order.instrument
        if instrument.status != "normal":
            return f"{instrument.symbol} is {instrument.status}: the exchange takes no order"
        if services.expired(instrument, timezone.localdate(now)):
            return f"{instrument.symbol} expired on {instrument.expiry.isoformat()}: the exchange takes no order"
        holds, side = self._holds(order)
        if order.remaining > holds:
            return (
                f"the account holds {holds} {instrument.symbol} {side},"
                f" less than the {order.remaining} the order still trades"
            )
        return ""

    def why_not(self, order: Order) -> str:
        """Why the exchange takes none of this order now ("" when it does): its odd lot no longer closes
        the position with the other orders working."""
        holds, side = self._holds(order)
        symbol = order.instrument.symbol
        working = self.working.get((order.account_id, order.instrument_id, order.side), 0)
        if order.remaining % order.instrument.lot_size and working != holds:
            return (
                f"an odd lot trades only to close the position: the working orders trade {working} {symbol},"
                f" the account holds {holds} {side}"
            )
        return ""

    def dropped(self, order: Order) -> None:
        key = (order.account_id, order.instrument_id, order.side)
        self.working[key] = self.working.get(key, 0) - order.remaining

    def filled(self, order: Order, quantity: int) -> None:
        key = (order.account_id, order.instrument_id)
        self.held[key] = self.held.get(key, 0) - (quantity if order.side == Side.SELL else -quantity)
        self.working[(*key, order.side)] = self.working.get((*key, order.side), 0) - quantity


def _turn(order: Order, now, book: _Positions) -> bool:
    instrument = order.instrument
    # Judged again as the turn fills: two orders on one position that together trade more than it now
    # holds (a book imported since) do not both fill, turning it the other way.
    if why := book.refused(order, now) or book.why_not(order):
        return _reject(order, why, book)
    price = instrument.price
    if order.limit_price is not None and (
        (order.side == Side.SELL and price < order.limit_price)
        or (order.side == Side.BUY and price > order.limit_price)
    ):
        return False  # waits for the price
    lot = instrument.lot_size
    remaining = order.remaining
    part = remaining
    if remaining > PART_LOTS * lot:
        part = max(lot, math.ceil(remaining / 2 / lot) * lot)
    fill = services.record_fill(order.pk, part, price, now, reference=f"sim-{order.pk}-{order.filled_quantity}")
    if fill is not None:
        book.filled(order, fill.quantity)
    return fill is not None


@shared_task(ignore_result=True)
def auto_liquidate() -> dict:
    from . import auto

    return auto.run()


BATCH_CHUNK = 100


@shared_task(ignore_result=True)
def run_batch(batch_id: int) -> None:
    """Liquidate a batch's calls by their plans, a chunk at a time, recording each call's outcome and the
    progress as it goes. Run twice, it does only what is not done (and the orders' keys forbid twice)."""

    from .models import Batch, BatchStatus

    batch = Batch.objects.select_related("created_by").filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.RUNNING:
        return
    Batch.objects.filter(pk=batch.pk).update(moved_at=timezone.now())
    _run_batch(batch)


@shared_task(ignore_result=True)
def resubmit_orders() -> int:
    """Send again the orders still pending ``ORDER_RESUBMIT_SECONDS`` after they were placed or last
    sent: the gateway failed when they were placed, or the process died between their commit and their
    sending. Beat runs it every ``ORDER_RESUBMIT_SECONDS``. Each is claimed first (locked, skipping any
    another run holds, and stamped), then sent on its own, so one the gateway keeps refusing holds up
    no other. Never sent late, nor against the trader's wish:

    - one whose cancel was asked for is cancelled here (the market never had it);
    - one still unsent ``ORDER_SEND_GIVE_UP_SECONDS`` after it was placed is rejected, its quantity
      released: the market, the call and the trader may all have moved on. It is placed again if
      still wanted.

    A gateway takes an order it already has as the same order (its id is the order's own)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ORDER_RESUBMIT_SECONDS)
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=OrderStatus.PENDING, updated_at__lt=stale)
            .order_by("pk")
            .only("pk", "created_at", "cancel_requested_at")[:500]
        )
        Order.objects.filter(pk__in=[order.pk for order in orders]).update(updated_at=now)  # claimed
    too_old = now - timedelta(seconds=settings.ORDER_SEND_GIVE_UP_SECONDS)
    sent = 0
    for order in orders:
        if order.cancel_requested_at is not None:
            services.mark_cancelled(order.pk)
        elif order.created_at < too_old:
            services.mark_rejected(
                order.pk,
                f"not sent: the order gateway did not take it within {settings.ORDER_SEND_GIVE_UP_SECONDS:g} s"
                " of its placing; place it again if it is still wanted",
            )
            alerts.error("order %s was never taken by the order gateway: rejected, its quantity released", order.pk)
        else:
            sent += services.submit([order.pk])
    if orders:
        logger.warning("%d order(s) still pending: %d sent again", len(orders), sent)
    return len(orders)


# A running batch that has not moved for this long is started again (it does only what is not done).
BATCH_RESUME_SECONDS = 120


def start_batch(batch_id: int) -> bool:
    """Queue a batch's run. False when the task queue cannot be reached: the batch stays running and
    :func:`resume_batches` starts it once the queue is back."""
    try:
        run_batch.delay(batch_id)
    except QUEUE_AWAY:
        logger.warning("liquidation batch %s not started now (task queue unreachable); the sweep starts it", batch_id)
        return False
    return True


@shared_task(ignore_result=True)
def resume_batches() -> int:
    """Start again each running batch that has not moved for ``BATCH_RESUME_SECONDS``: never queued (the
    broker was away), or its worker died. Beat runs it every minute."""
    from .models import Batch, BatchStatus

    stale = timezone.now() - timedelta(seconds=BATCH_RESUME_SECONDS)
    batch_ids = list(
        Batch.objects.filter(status=BatchStatus.RUNNING, moved_at__lt=stale).values_list("pk", flat=True)[:100]
    )
    for batch_id in batch_ids:
        Batch.objects.filter(pk=batch_id).update(moved_at=timezone.now())  # one restart a period
        logger.warning("liquidation batch %s had not moved for %d s: started again", batch_id, BATCH_RESUME_SECONDS)
        run_batch.delay(batch_id)
    return len(batch_ids)


def _run_chunk(batch) -> bool:
    """Place the next chunk of a batch's calls (in the caller's transaction); False if none was left."""
    from .models import Batch, BatchItem, BatchOutcome

    # Two runs of one batch (a resumed one and the first, late) take its chunks in turn: each reads the
    # calls not done yet under the batch's lock, so none is counted twice.
    Batch.objects.select_for_update().filter(pk=batch.pk).first()
    items = list(BatchItem.objects.filter(batch=batch, done=False).select_related("call__account")[:BATCH_CHUNK])
    if not items:
        return False
    open_items = [item for item in items if item.call.is_open]
    # Each chunk acts with its trader's rights as they are now: a desk or a role taken away meanwhile
    # stops the rest (the rights a user object has read are kept on it).
    trader = get_user_model().objects.get(pk=batch.created_by_id)
    requests = services.liquidate_calls(
        user=trader,
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
            item.outcome = BatchOutcome.CLOSED
        elif request.orders:
            item.orders = len(request.orders)
            placed += item.orders
            item.outcome = BatchOutcome.PLACED
            plan = (request.detail or {}).get("plan")  # none when the batch's key placed it before
            if plan:
                item.covers, item.value = plan["covers"], Decimal(plan["value"])
        else:
            item.outcome = BatchOutcome.REFUSED
            # Each reader reads why in their language, whoever started the batch.
            item.refusal = {code: text[:500] for code, text in every_language(request.refused or "").items()}
    BatchItem.objects.bulk_update(items, ["done", "orders", "outcome", "refusal", "covers", "value"])
    Batch.objects.filter(pk=batch.pk).update(
        done=F("done") + len(items), orders=F("orders") + placed, moved_at=timezone.now()
    )
    return True


def _run_batch(batch) -> None:
    from .models import Batch, BatchStatus

    try:
        # A chunk the database undid to break a deadlock (a pass, a trader or a fill took the same rows)
        # wrote nothing and is run again; the batch fails only on what running again cannot mend.
        while atomic_again(lambda: _run_chunk(batch), what=f"liquidation batch {batch.pk}"):
            pass
        # Every call done, by this run or another: done, even where another run (a resumed one, or a late
        # first) failed meanwhile on a chunk this one then did.
        Batch.objects.filter(pk=batch.pk).exclude(status=BatchStatus.DONE).update(
            status=BatchStatus.DONE, finished_at=timezone.now(), error=""
        )
    except Exception as error:
        logger.exception("liquidation batch %s failed", batch.pk)
        # Not over a batch another run has finished: its calls are done.
        Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
            status=BatchStatus.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {error}"[:2000]
        )
