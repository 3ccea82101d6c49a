"""Snapshots of accounts (docs/domain.md, A call's life): figures, cash, positions, and the prices
and FX used, as plain JSON strings so they read back exactly as they were."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db.models import Q

from book.models import Account, Position

from . import calculations, selectors
from .models import AccountRisk, CallSnapshot

# The account's own terms the figures were derived from (SPEC: per-account figures from the book, and
# the rule set's call coefficient), so a snapshot's figures can be worked out again from it alone.
TERMS = ("credit_limit", "accrued_interest", "debt_margin", "trading_limit")

logger = logging.getLogger(__name__)


def _text(value) -> str | None:
    return None if value is None else str(value)


def account_books(account_ids: Iterable[int]) -> dict[int, dict]:
    """The snapshot payload of each account, in six queries whatever the number of accounts."""
    account_ids = list(account_ids)
    fx = selectors.fx_rates_current()
    books: dict[int, dict] = {}
    for account_id, *values in AccountRisk.objects.filter(account_id__in=account_ids).values_list(
        "account_id", *AccountRisk.FIGURE_FIELDS, "computed_at"
    ):
        figures = dict(zip([*AccountRisk.FIGURE_FIELDS, "computed_at"], values, strict=True))
        books[account_id] = {
            "figures": {name: _text(value) for name, value in figures.items() if name != "computed_at"},
            "computed_at": figures["computed_at"].isoformat(),
            "cash": [],
            "positions": [],
            "fx": {},
        }
    coefficients = selectors.call_coefficients()
    for account_id, kind, *terms in Account.objects.filter(pk__in=list(books)).values_list("pk", "kind", *TERMS):
        books[account_id]["terms"] = {
            "kind": kind,
            **{name: _text(value) for name, value in zip(TERMS, terms, strict=True)},
            "call_coefficient": _text(coefficients.get(kind, calculations.ONE)),
        }
    cash = selectors.cash_by_account(Q(account_id__in=books))
    currencies: dict[int, set] = defaultdict(set)
    # A currency with no FX rate: its lines are kept with no HKD value, and the book says which (the
    # snapshot is the call's record; it is written, not dropped).
    unvalued: dict[int, set] = defaultdict(set)
    for account_id, lines in cash.items():
        for currency, amount in sorted(lines.items(), key=lambda item: (item[0] != calculations.HKD, item[0])):
            try:
                [line] = calculations.cash_lines({currency: amount}, fx)
                entry = {"fx_rate": str(line.fx_rate), "hkd_value": str(line.hkd_value)}
            except calculations.MissingFxRate:
                unvalued[account_id].add(currency)
                entry = {"fx_rate": None, "hkd_value": None}
            books[account_id]["cash"].append({"currency": currency, "amount": str(amount), **entry})
            currencies[account_id].add(currency)
    positions = (
        Position.objects.filter(account_id__in=books)
        .select_related("instrument")
        .order_by("account_id", "instrument__symbol")
    )
    valued = ("market_value", "im_rate", "mm_rate", "fm_rate", "im", "mm", "fm")
    for position in positions:
        instrument = position.instrument
        try:
            line = calculations.position_line(selectors.terms_of(instrument), position.quantity, fx)
            values = {name: str(getattr(line, name)) for name in valued}
        except calculations.MissingFxRate:
            unvalued[position.account_id].add(instrument.currency)
            values = dict.fromkeys(valued)
        books[position.account_id]["positions"].append(
            {
                "symbol": instrument.symbol,
                "name": instrument.name,
                "status": instrument.status,
                "currency": instrument.currency,
                "quantity": position.quantity,
                "price": str(instrument.price),
                "price_time": _text(instrument.price_time and instrument.price_time.isoformat()),
                "multiplier": instrument.multiplier,
                **values,
            }
        )
        currencies[position.account_id].add(instrument.currency)
    for account_id, used in currencies.items():
        books[account_id]["fx"] = {
            currency: None if currency in unvalued.get(account_id, ()) else str(calculations.fx_rate(fx, currency))
            for currency in sorted(used)
        }
    for account_id, missing in unvalued.items():
        books[account_id]["missing_fx"] = sorted(missing)
        logger.warning("snapshot of account %s: no FX rate for %s", account_id, ", ".join(sorted(missing)))
    return books


def take(
    calls: Iterable[tuple[int, int]], *, kind: str, key: str, at: datetime, times: Mapping[int, datetime] | None = None
) -> int:
    """Snapshot these (call id, account id) pairs, taken ``at`` (or, per account id, at ``times``). A
    call that already has a snapshot with this key keeps it, so a task that runs twice writes nothing
    the second time."""
    times = times or {}
    calls = list(calls)
    if not calls:
        return 0
    books = account_books(account_id for _call_id, account_id in calls)
    rows = []
    for call_id, account_id in calls:
        book = books.get(account_id)
        if book is None:
            continue
        figures = book["figures"]
        rows.append(
            CallSnapshot(
                call_id=call_id,
                kind=kind,
                key=key,
                taken_at=times.get(account_id, at),
                nav_ratio=figures["nav_ratio"],
                call_amount=figures["call_amount"],
                call_type=figures["call_type"] or "",
                book=book,
            )
        )
    return len(CallSnapshot.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True))
