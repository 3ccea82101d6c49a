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
    """Of these messages about stock to recover, the ones no open row asks for any more. A covered-call
    message stands while its account has an open covered-call case on its stock; a short-stock message
    while it has an open short-stock item in it, or a case (covered-call messages were of its kind
    before they had their own). A message that names no stock stands while any such row of its account
    is open."""
    from notices.models import NoticeKind
    from notices.placeholders import RECOVERY_KINDS

    from .models import CoveredCallCase, ShortStockItem

    notices = [notice for notice in notices if notice.kind in RECOVERY_KINDS]
    if not notices:
        return set()
    accounts = {notice.account_id for notice in notices}
    items = set(
        ShortStockItem.objects.filter(account_id__in=accounts, resolved_at__isnull=True).values_list(
            "account_id", "instrument__symbol"
        )
    )
    cases = set(
        CoveredCallCase.objects.filter(account_id__in=accounts, resolved_at__isnull=True).values_list(
            "account_id", "underlying__symbol"
        )
    )

    def stands(notice) -> bool:
        rows = cases if notice.kind == NoticeKind.COVERED_CALL else items | cases
        if notice.stock:
            return (notice.account_id, notice.stock) in rows
        return any(account_id == notice.account_id for account_id, _symbol in rows)

    return {notice.pk for notice in notices if not stands(notice)}
