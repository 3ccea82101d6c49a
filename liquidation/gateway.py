"""The order gateway: how liquidation orders reach a market, and how what happens to them comes back.

A gateway has two methods, called after the orders are committed:

- ``submit(order_ids)``: send these orders; mark them submitted (``services.mark_submitted``) once the
  market has them.
- ``cancel(order_id)``: ask the market to cancel; confirm with ``services.mark_cancelled`` when it does.

What the market reports comes back through ``services.record_fill`` (with the market's own fill
reference, so a fill reported twice is booked once), ``services.mark_rejected`` and
``services.mark_cancelled``. The gateway is named in settings (``LIQUIDATION_GATEWAY``); the default is
:class:`SimulatedExchange`. docs/liquidation.md shows how a broker plugs in its own order system.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


class Gateway:
    def submit(self, order_ids: list[int]) -> None:
        raise NotImplementedError

    def cancel(self, order_id: int) -> None:
        raise NotImplementedError


class SimulatedExchange(Gateway):
    """A simulated exchange on the worker: it takes orders at once; its turn
    (:func:`liquidation.tasks.simulate_exchange`, every second on beat) fills them at the current price
    within their limit after a short delay (large orders in parts), rejects orders on instruments that
    cannot trade, and trades only in XHKG sessions (``SIMULATED_EXCHANGE_ALWAYS_OPEN`` opens it at any
    time, as the demo does). A cancel is honoured at once, so one that arrives before the fill wins."""

    def submit(self, order_ids):
        from . import services

        services.mark_submitted(order_ids)

    def cancel(self, order_id):
        from . import services

        services.mark_cancelled(order_id)


@cache
def _gateway(path: str) -> Gateway:
    return import_string(path)()


def get() -> Gateway:
    return _gateway(settings.LIQUIDATION_GATEWAY)
