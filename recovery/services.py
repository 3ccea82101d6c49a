"""The recovery rules (:mod:`recovery.rules`) over the stored book."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from book.models import Account, AccountKind, Instrument, LendingAvailability, Position, option_expired
from book.trading_calendar import call_deadline
from console.locks import advisory_lock

from . import live, rules
from .models import CoveredCallCase, RecoveryScan, ShortStockItem

logger = logging.getLogger(__name__)


def _holdings(positions) -> list[rules.Holding]:
    return [
        rules.Holding(account_no, kind, symbol, quantity)
        for account_no, kind, symbol, quantity in positions.exclude(quantity=0)
        .values_list("account__account_no", "account__kind", "instrument__symbol", "quantity")
        .iterator(chunk_size=5000)
    ]


def _instruments(symbols) -> dict[str, rules.Instrument]:
    today = timezone.localdate()  # Hong Kong's: an option past its expiry day needs no cover
    return {
        symbol: rules.Instrument(
            symbol,
            kind,
            lot_size,
            multiplier,
            shortable,
            underlying,
            option_type,
            expired=option_expired(kind, expiry, today),
        )
        for symbol, kind, lot_size, multiplier, shortable, underlying, option_type, expiry in Instrument.objects.filter(
            symbol__in=set(symbols)
        ).values_list(
            "symbol", "kind", "lot_size", "multiplier", "shortable", "underlying__symbol", "option_type", "expiry"
        )
    }


def covered_calls_of(account_ids) -> list[rules.CoveredCall]:
    """The covered-call shortfalls of these accounts (ids, or a queryset of them), from the book now."""
    holdings = _holdings(Position.objects.filter(account_id__in=account_ids))
    return rules.covered_calls(holdings, _instruments(holding.symbol for holding in holdings))


def covered_calls_now() -> list[rules.CoveredCall]:
    """Every covered-call shortfall, reading only the accounts short a call option."""
    return covered_calls_of(
        Position.objects.filter(quantity__lt=0, instrument__option_type="call").values("account_id")
    )


def lending_now(symbols: list[str] | None = None) -> list[rules.Lending]:
    """Every lending pool (or these stocks' ones), reading only the shorts in the stocks the prime broker
    reports on."""
    pools = LendingAvailability.objects.all()
    if symbols is not None:
        pools = pools.filter(instrument__symbol__in=symbols)
    lendable = dict(pools.values_list("instrument__symbol", "lendable"))
    holdings = _holdings(Position.objects.filter(quantity__lt=0, instrument__symbol__in=list(lendable)))
    return rules.short_stock(holdings, _instruments(lendable), lendable)[1]


def book_scan() -> rules.Scan:
    """The rules over the whole book as it is stored now. Reads only the accounts that are short
    something (and all their positions: a covered call needs the long stock)."""
    short_accounts = Position.objects.filter(quantity__lt=0).values("account_id")
    holdings = _holdings(Position.objects.filter(account_id__in=short_accounts))
    lendable = dict(LendingAvailability.objects.values_list("instrument__symbol", "lendable"))
    instruments = _instruments({holding.symbol for holding in holdings} | set(lendable))
    return rules.scan(holdings, instruments, lendable)


def as_json(scan: rules.Scan) -> dict:
    """What ``export_recovery`` prints."""
    return {
        "covered_calls": [
            {
                "account_no": item.account_no,
                "underlying": item.underlying,
                "options": [{"symbol": symbol, "contracts": contracts} for symbol, contracts in item.options],
                "required_shares": item.required,
                "held_shares": item.held,
                "shortfall_shares": item.shortfall,
            }
            for item in scan.covered_calls
        ],
        "short_stock": [
            {
                "account_no": item.account_no,
                "symbol": item.symbol,
                "short_quantity": item.short_quantity,
                "quantity": item.quantity,
                "reason": item.reason,
            }
            for item in scan.short_stock
        ],
        "lending": [
            {
                "symbol": pool.symbol,
                "lendable": pool.lendable,
                "lent": pool.lent,
                "clients": pool.clients,
                "recall": pool.recall,
            }
            for pool in scan.lending
        ],
    }


# --- keeping the cases and items in line with the rules ----------------------------------------------


def _due_sessions() -> dict[str, int]:
    from risk.models import RuleSet

    sessions = dict.fromkeys(AccountKind.values, RuleSet._meta.get_field("recovery_sessions").default)
    sessions.update(RuleSet.objects.values_list("account_kind", "recovery_sessions"))
    return sessions


def _accounts(numbers) -> dict[str, tuple[int, str]]:
    return {
        no: (pk, kind)
        for pk, no, kind in Account.objects.filter(account_no__in=set(numbers)).values_list("pk", "account_no", "kind")
    }


COVERED_CALL_LOCK_KEY = 0x6D63_6363  # "mccc": the writers of covered-call cases, one at a time


def sync_covered_calls(
    read: Callable[[], list[rules.CoveredCall]],
    *,
    now: dt.datetime,
    account_ids: list[int] | None = None,
    found: list[rules.CoveredCall] | None = None,
) -> list[int]:
    """Open a case for each shortfall ``read()`` finds in the book without one; resolve the open cases
    it no longer shows (only those of ``account_ids`` when given). Returns the cases opened or resolved.
    ``found``: what the caller has just read, to compare with first.

    The book is read again under the lock before anything is written: a caller that read it before
    another's change committed (a page loaded as a fill bought the calls back) neither reopens a case
    that change resolved nor resolves one it opened."""
    unresolved = CoveredCallCase.objects.filter(resolved_at__isnull=True)
    if account_ids is not None:
        unresolved = unresolved.filter(account_id__in=account_ids)
    elif (
        set(unresolved.values_list("account_id", "underlying_id"))
        == _wanted(read() if found is None else found)[0].keys()
    ):
        # The cases already match the book: nothing is locked or written (a page's read, the scan's). A
        # follow of a change always waits for the lock: a writer that read the book before the change may
        # hold it, and is set right only by a check that comes after it.
        return []
    sessions = _due_sessions()
    with transaction.atomic():
        advisory_lock(COVERED_CALL_LOCK_KEY)
        wanted, kinds = _wanted(read())
        # Locked in one order (by id), as every writer of these cases locks them.
        open_cases = {
            (case.account_id, case.underlying_id): case for case in unresolved.select_for_update().order_by("pk")
        }
        gone = [case.pk for key, case in open_cases.items() if key not in wanted]
        CoveredCallCase.objects.filter(pk__in=gone).update(resolved_at=now, updated_at=now)
        new = [key for key in wanted if key not in open_cases]
        CoveredCallCase.objects.bulk_create(
            [
                CoveredCallCase(
                    account_id=account_id,
                    underlying_id=underlying_id,
                    detected_at=now,
                    due=call_deadline(now, sessions[kinds[account_id]]),
                    updated_at=now,
                )
                for account_id, underlying_id in new
            ],
            ignore_conflicts=True,
        )
        opened = list(
            CoveredCallCase.objects.filter(
                resolved_at__isnull=True, detected_at=now, account_id__in={key[0] for key in new}
            ).values_list("pk", flat=True)
        )
        changed = [*gone, *opened]
        if changed:
            transaction.on_commit(lambda: live.publish(changed))
    return changed


def _wanted(found: list[rules.CoveredCall]) -> tuple[dict[tuple[int, int], rules.CoveredCall], dict[int, str]]:
    """The shortfalls found, by (account id, underlying id) as their cases are keyed; their accounts' kinds."""
    accounts = _accounts(item.account_no for item in found)
    stocks = dict(Instrument.objects.filter(symbol__in={i.underlying for i in found}).values_list("symbol", "pk"))
    wanted = {(accounts[item.account_no][0], stocks[item.underlying]): item for item in found}
    return wanted, dict(accounts.values())


def follow_accounts(account_ids: list[int], *, now: dt.datetime | None = None) -> list[int]:
    """Check these accounts' covered calls again after their positions moved."""
    if not account_ids:
        return []
    return sync_covered_calls(lambda: covered_calls_of(account_ids), now=now or timezone.now(), account_ids=account_ids)


def sync_short_stock(found: list[rules.ShortStock], scan: RecoveryScan, *, now: dt.datetime) -> None:
    accounts = _accounts(item.account_no for item in found)
    stocks = dict(Instrument.objects.filter(symbol__in={i.symbol for i in found}).values_list("symbol", "pk"))
    wanted = {(accounts[item.account_no][0], stocks[item.symbol]): item for item in found}
    kinds = {pk: kind for pk, kind in accounts.values()}
    sessions = _due_sessions()
    with transaction.atomic():
        current = {
            (item.account_id, item.instrument_id): item
            for item in ShortStockItem.objects.select_for_update().filter(resolved_at__isnull=True).order_by("pk")
        }
        ShortStockItem.objects.filter(pk__in=[i.pk for k, i in current.items() if k not in wanted]).update(
            resolved_at=now, updated_at=now
        )
        to_update, to_create = [], []
        for key, rule in wanted.items():
            item = current.get(key)
            if item is None:
                to_create.append(
                    ShortStockItem(
                        account_id=key[0],
                        instrument_id=key[1],
                        reason=rule.reason,
                        short_quantity=rule.short_quantity,
                        quantity=rule.quantity,
                        detected_at=now,
                        due=call_deadline(now, sessions[kinds[key[0]]]),
                        scan=scan,
                        updated_at=now,
                    )
                )
            else:
                item.reason, item.short_quantity, item.quantity = rule.reason, rule.short_quantity, rule.quantity
                item.scan, item.updated_at = scan, now
                to_update.append(item)
        ShortStockItem.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
        ShortStockItem.objects.bulk_update(
            to_update, ["reason", "short_quantity", "quantity", "scan", "updated_at"], batch_size=1000
        )


def run_scan(now: dt.datetime | None = None) -> RecoveryScan:
    """The scan: the rules over the book now; the short-stock items and the covered-call cases follow."""
    now = now or timezone.now()
    started = time.perf_counter()
    result = book_scan()
    scan = RecoveryScan.objects.create(ran_at=now, items=len(result.short_stock))
    sync_short_stock(result.short_stock, scan, now=now)
    sync_covered_calls(covered_calls_now, now=now, found=result.covered_calls)
    RecoveryScan.objects.filter(pk=scan.pk).update(seconds=round(time.perf_counter() - started, 3))
    logger.info(
        "recovery scan: %d short stock items, %d covered-call shortfalls",
        len(result.short_stock),
        len(result.covered_calls),
    )
    return scan
