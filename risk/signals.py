"""What the risk app tells the apps above it. It never imports them: they listen.

``calls_changed``
    Sent after the transaction that opened, reopened or escalated calls commits, with ``opened``,
    ``reopened`` and ``escalated`` (call ids). Sent robustly: a receiver that fails is logged, and what
    it missed is not the recompute's failure (the notices' daily job still reaches every open call).
"""

from django.dispatch import Signal

calls_changed = Signal()
