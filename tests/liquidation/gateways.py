"""A gateway that takes orders and never fills them by itself: tests fill, reject or cancel them."""

from liquidation import services
from liquidation.gateway import Gateway


class Holding(Gateway):
    def submit(self, order_ids):
        services.mark_submitted(order_ids)

    def cancel(self, order_id):
        services.mark_cancelled(order_id)


class Confirming(Holding):
    """A broker's gateway: a cancel is only sent; the exchange confirms it later."""

    def cancel(self, order_id):
        pass


class Away(Holding):
    """A broker's order system that cannot be reached: nothing it is given is taken."""

    def submit(self, order_ids):
        raise ConnectionError("order system unreachable")
