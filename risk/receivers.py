"""The risk app follows the book: it recomputes what an import moved, in the import's transaction, and
queues the recompute of a price's holders after the price commits (:mod:`book.signals`)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q
from django.dispatch import receiver

from book.models import Account
from book.signals import BookEffect, book_written, prices_changed
from console.queue import QUEUE_AWAY, Outage

from . import selectors, services
from .calculations import MissingFxRate, round_money, total_cash_hkd
from .models import AccountRisk, CloseCause

logger = logging.getLogger(__name__)


@receiver(book_written, dispatch_uid="risk.recompute_written_book")
def recompute_written_book(
    sender, *, account_ids, instrument_ids, currencies, account_nos, deposits, at, now, by_admin=False, **kwargs
) -> BookEffect:
    affected = services.affected_accounts(account_ids=account_ids, instrument_ids=instrument_ids, currencies=currencies)
    # Accounts in the file that have never been computed are computed now, changed or not.
    named = Account.objects.filter(account_no__in=account_nos)
    affected |= set(named.exclude(pk__in=AccountRisk.objects.values("pk")).values_list("pk", flat=True))
    if not affected:
        return BookEffect()
    # A call opened or closed by a book happens at the book's time (a replayed statement or a
    # scenario); a call closed as its cash in HKD rose is closed by a deposit, any other by the market; a call an
    # edit in the admin closes, by that edit.
    causes = (
        dict.fromkeys(affected, CloseCause.ADMIN)
        if by_admin
        else dict.fromkeys(cash_rose(deposits), CloseCause.DEPOSIT)
    )
    # An account that could not be recomputed before this change either (its figures_problem says why)
    # is not the change's doing: warned of, not refused for.
    before = {
        account_no
        for account_id, account_no in AccountRisk.objects.exclude(figures_problem="").values_list(
            "account_id", "account__account_no"
        )
        if account_id in affected
    }
    # What it could not do refuses the change (or is warned of): said there, not logged as lost figures.
    result = services.recompute_accounts(account_ids=affected, now=now, at=at, causes=causes, say_failed=False)
    return BookEffect(
        recomputed=result.accounts,
        failed={no: why for no, why in result.failed.items() if no not in before},
        warnings=[
            f"accounts.{no}: still not recomputed, as before this change: {why}"
            for no, why in sorted(result.failed.items())
            if no in before
        ],
    )


def cash_rose(account_ids) -> set[int]:
    """Of these accounts whose cash lines changed, those whose cash in HKD is now more than their stored
    figures say: paid in. A fee, a withdrawal or a conversion between currencies is no deposit."""
    account_ids = set(account_ids)
    if not account_ids:
        return set()
    before = dict(AccountRisk.objects.filter(account_id__in=account_ids).values_list("account_id", "total_cash"))
    lines = selectors.cash_by_account(Q(account_id__in=account_ids))
    fx = selectors.fx_rates_current()
    rose = set()
    for account_id in account_ids:
        try:
            now = round_money(total_cash_hkd(lines[account_id], fx))
        except MissingFxRate:
            continue  # not recomputed either: its call stays as it is
        if account_id not in before or now > before[account_id]:
            rose.add(account_id)
    return rose


@receiver(prices_changed, dispatch_uid="risk.queue_holders_recompute")
def queue_holders_recompute(sender, *, instrument_ids, latest, **kwargs) -> None:
    """Queue a recompute pass (or join the one already queued). If it cannot be queued (the broker is
    away) or, run in-process, it fails, the prices stay marked pending and the sweep recomputes them."""
    from .tasks import recompute_instruments, request_pass

    if not queue_away.try_now(QUEUE_RETRY_SECONDS):
        return  # the prices stay marked: the next try, or the sweep, takes them up
    try:
        if settings.RECOMPUTE_COALESCE:
            request_pass()
        else:
            recompute_instruments.delay(list(instrument_ids), latest)
    except QUEUE_AWAY as error:
        # Every tick would say it (a hundred a second in a storm): said as an outage, without a traceback,
        # to the alerts (the sweep that alerts on late prices cannot run without the queue either).
        queue_away.failed(
            "recompute passes cannot be queued (%s: %s): prices stay marked, and the sweep recomputes them once "
            "the task queue is back",
            type(error).__name__,
            error,
        )
    except Exception:
        logger.exception("the recompute of instruments %s was not done now; the sweep will do it", instrument_ids)
    else:
        queue_away.over("recompute passes are queued again")


queue_away = Outage(remind_seconds=30)
QUEUE_RETRY_SECONDS = 5  # while the task queue is away, a tick tries it at most this often
