"""What the book tells the apps above it. The book never imports them: they listen.

``book_written``
    Sent by ``import_book`` (and by the admin for its edits) inside its transaction, after the book is
    written and before it commits, with what moved: ``account_ids`` (accounts whose terms, cash or
    positions changed), ``instrument_ids`` (instruments whose terms changed), ``currencies`` (FX rates
    that changed), ``account_nos`` (every account named in the file), ``deposits`` (accounts whose cash
    lines changed), ``at`` (the book's time), ``now`` and ``by_admin`` (an edit in the admin, not a file). A
    receiver returns a :class:`BookEffect`; a failure in any receiver's effect refuses the whole file,
    so the book and what follows from it commit together.

``positions_changed``
    Sent after a transaction that moved positions outside an import commits (a liquidation fill), with
    ``account_ids``.

``prices_changed``
    Sent after the prices' transaction commits, with ``instrument_ids`` and ``latest`` (the newest
    price time). The prices are already marked pending (:mod:`book.pending`) in that transaction, so a
    receiver that fails or never runs leaves them to the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.dispatch import Signal

book_written = Signal()
prices_changed = Signal()
positions_changed = Signal()


@dataclass
class BookEffect:
    """What a receiver of ``book_written`` did: how many accounts it recomputed, the accounts it could
    not, by account number, with why, and what the import should warn of (written all the same)."""

    recomputed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
