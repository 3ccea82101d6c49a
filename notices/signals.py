"""What the notices app asks the apps above it. It never imports them: they answer.

``account_messages_settled``
    Sent before failed messages about an account (not a call) are sent again, with ``notices`` (those
    messages). A receiver returns the ids of the ones whose matter is settled (the stock they ask for
    is no longer to recover, say): those are not sent again.

``calls_with_orders``
    Sent before a desk's message from the liquidation template (which tells the client orders were
    placed), with ``call_ids``. A receiver returns the ids of the calls that have liquidation orders.
"""

from django.dispatch import Signal

account_messages_settled = Signal()
calls_with_orders = Signal()
