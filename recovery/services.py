"""The recovery rules (:mod:`recovery.rules`) over the stored book."""

from __future__ import annotations

from book.models import Instrument, LendingAvailability, Position

from . import rules


def book_scan() -> rules.Scan:
    """The rules over the whole book as it is stored now. Reads only the accounts that are short
    something (and all their positions: a covered call needs the long stock)."""
    short_accounts = Position.objects.filter(quantity__lt=0).values("account_id")
    holdings = [
        rules.Holding(account_no, kind, symbol, quantity)
        for account_no, kind, symbol, quantity in Position.objects.filter(account_id__in=short_accounts)
        .exclude(quantity=0)
        .values_list("account__account_no", "account__kind", "instrument__symbol", "quantity")
        .iterator(chunk_size=5000)
    ]
    lendable = dict(LendingAvailability.objects.values_list("instrument__symbol", "lendable"))
    symbols = {holding.symbol for holding in holdings} | set(lendable)
    instruments = {
        symbol: rules.Instrument(symbol, kind, lot_size, multiplier, shortable, underlying, option_type)
        for symbol, kind, lot_size, multiplier, shortable, underlying, option_type in Instrument.objects.filter(
            symbol__in=symbols
        ).values_list("symbol", "kind", "lot_size", "multiplier", "shortable", "underlying__symbol", "option_type")
    }
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
