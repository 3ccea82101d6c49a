"""Covered Call Recovery follows positions: after an import or a fill, the accounts it moved are
checked again, their cases opened or resolved, and open pages told."""

from __future__ import annotations

from django.db import transaction


def book_written(sender, *, account_ids=(), **kwargs):
    ids = list(account_ids)
    if ids:
        transaction.on_commit(lambda: _follow(ids))  # the import's positions are committed by then


def positions_changed(sender, *, account_ids=(), **kwargs):
    _follow(list(account_ids))


def _follow(account_ids: list[int]) -> None:
    from . import services

    services.follow_accounts(account_ids)
