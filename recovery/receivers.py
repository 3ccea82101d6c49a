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


def account_messages_settled(sender, *, notices=(), **kwargs) -> set[int]:
    """Of these messages about stock to recover, the ones no open row asks for any more: no open
    short-stock item or covered-call case of their account in their stock (any of the account's, for a
    message that names no stock)."""
    from .models import CoveredCallCase, ShortStockItem

    notices = [notice for notice in notices if notice.kind in ("recovery", "covered_call")]
    if not notices:
        return set()
    accounts = {notice.account_id for notice in notices}
    open_rows = {
        *ShortStockItem.objects.filter(account_id__in=accounts, resolved_at__isnull=True).values_list(
            "account_id", "instrument__symbol"
        ),
        *CoveredCallCase.objects.filter(account_id__in=accounts, resolved_at__isnull=True).values_list(
            "account_id", "underlying__symbol"
        ),
    }
    with_open = {account_id for account_id, _symbol in open_rows}
    return {
        notice.pk
        for notice in notices
        if ((notice.account_id, notice.stock) not in open_rows if notice.stock else notice.account_id not in with_open)
    }
