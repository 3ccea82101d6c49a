"""What the risk app tells the apps above it. It never imports them: they listen.

``calls_changed``
    Sent after the transaction that opened, reopened or escalated calls commits, with ``opened``,
    ``reopened`` and ``escalated`` (call ids). Sent robustly: a receiver that fails is logged, and what
    it missed is not the recompute's failure (the notices' daily job still reaches every open call).

``call_ended``
    Sent after a trader's end of a call (by hand, a deposit the book has not seen yet, say) commits,
    when the trader asked for its working orders to be cancelled too, with ``call_id`` and ``user``. A
    receiver acts as that user and returns what it did, as a sentence for the trader ("" for nothing).
"""

from django.dispatch import Signal

calls_changed = Signal()
call_ended = Signal()
