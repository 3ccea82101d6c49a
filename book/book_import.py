"""``import_book``: upsert a book file into the database, all or nothing, then recompute what it moved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from console.text import fold

from . import times
from .book_format import Book, BookInvalid, load_book_json, parse_book
from .models import (
    HKD,
    Account,
    CashBalance,
    Desk,
    FxRate,
    Instrument,
    InstrumentKind,
    LendingAvailability,
    Position,
    missing_option_terms,
)
from .signals import BookEffect, book_written
from .ticks import percent_move

# An FX rate that moves further than this in one book is said (currencies rarely move so in a day).
FX_MOVE_WARNING = Decimal("0.1")
# What moves an account's figures when it changes on an instrument.
INSTRUMENT_RISK_FIELDS = set(Instrument.TERM_FIELDS)
ACCOUNT_RISK_FIELDS = {"kind", "credit_limit", "accrued_interest", "debt_margin", "trading_limit"}


@dataclass
class ImportResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    recomputed: BookEffect = field(default_factory=BookEffect)
    # What was written but looks wrong (rates out of order, an as_of ahead of this clock): said, not refused
    warnings: list[str] = field(default_factory=list)

    def count(self, kind: str, *, created: int = 0, updated: int = 0) -> None:
        self.created[kind] = self.created.get(kind, 0) + created
        self.updated[kind] = self.updated.get(kind, 0) + updated

    def summary(self) -> str:
        parts = [
            f"{kind}: {self.created.get(kind, 0)} created, {self.updated.get(kind, 0)} updated"
            for kind in ("fx_rates", "desks", "instruments", "accounts", "cash", "positions", "lending")
        ]
        return "; ".join(parts) + f". Recomputed {self.recomputed.recomputed} accounts."


def import_book_text(text: str | bytes, *, now: dt.datetime | None = None) -> ImportResult:
    return book_import(book=parse_book(load_book_json(text)), now=now)


def book_import(*, book: Book, now: dt.datetime | None = None) -> ImportResult:
    """Write the book; raise :class:`BookInvalid` (writing nothing) if it refers to what does not exist."""
    now = now or timezone.now()
    if book.as_of is not None and (problem := times.book_time_problem(book.as_of, now)):
        raise BookInvalid([f"as_of: {problem}"])
    as_of = book.as_of or now
    explicit_time = book.as_of is not None
    result = ImportResult()
    ahead = (as_of - now).total_seconds()
    if ahead > settings.FEED_MAX_AHEAD_SECONDS:
        result.warnings.append(
            f"as_of is {ahead / 86_400:.1f} days ahead of this clock: its prices are stamped then, and a tick or a"
            " lending report timed before it is refused as older"
        )
    try:
        return _write(book, now, as_of, explicit_time, result)
    except IntegrityError as error:  # what the checks above did not foresee: refused whole, never a 500
        refused = next((name for name in IN_ANY_CAPITALS if name in str(error)), None)
        if refused is not None:
            raise BookInvalid([IN_ANY_CAPITALS[refused]]) from None
        raise BookInvalid([f"the database refused the book: {str(error).splitlines()[0]}"]) from None


# The database's own word on keys in other capitals (PostgreSQL folds letters beyond ASCII too).
IN_ANY_CAPITALS = {
    "account_no_unique_in_any_case": "accounts: an account number is stored already in other capitals",
    "symbol_unique_in_any_case": "instruments: a symbol is stored already in other capitals",
    "desk_code_unique_in_any_case": "desks: a desk code is stored already in other capitals",
}


def _write(book: Book, now, as_of, explicit_time: bool, result: ImportResult) -> ImportResult:
    with transaction.atomic():
        changed_currencies = _import_fx(book, as_of, explicit_time, result)
        _check_references(book)
        desks = _import_desks(book, result)
        instruments, changed_instruments = _import_instruments(book, as_of, explicit_time, result)
        changed_accounts, cash_changed = _import_accounts(book, desks, instruments, result)
        _import_lending(book, instruments, as_of, result)
        # The apps above the book follow it in this transaction (the risk app recomputes the accounts
        # it moved); what they cannot follow refuses the file.
        for _receiver, effect in book_written.send(
            sender=ImportResult,
            account_ids=changed_accounts,
            instrument_ids=changed_instruments,
            currencies=changed_currencies,
            account_nos=[a.account_no for a in book.accounts],
            deposits=cash_changed,
            at=as_of,
            now=now,
            by_admin=False,
        ):
            if isinstance(effect, BookEffect):
                result.recomputed.recomputed += effect.recomputed
                result.recomputed.failed.update(effect.failed)
                result.warnings += effect.warnings
        if result.recomputed.failed:
            raise BookInvalid([f"accounts.{no}: {why}" for no, why in sorted(result.recomputed.failed.items())])
    return result


def _check_references(book: Book) -> None:
    """Symbols, desks and currencies named in the file must exist in the file or the database."""
    symbols = {record.symbol for record in book.instruments}
    referenced = {r.underlying for r in book.instruments if r.underlying}
    referenced |= {p.symbol for a in book.accounts for p in a.positions or ()}
    referenced |= {r.symbol for r in book.lending}
    symbols |= set(Instrument.objects.filter(symbol__in=referenced - symbols).values_list("symbol", flat=True))
    desk_codes = {record.code for record in book.desks}
    wanted_desks = {a.desk for a in book.accounts if a.desk}
    desk_codes |= set(Desk.objects.filter(code__in=wanted_desks - desk_codes).values_list("code", flat=True))
    currencies = {HKD} | set(FxRate.objects.values_list("currency", flat=True)) | set(book.fx_rates)
    in_file = {record.symbol for record in book.instruments}
    stored_currency = dict(Instrument.objects.filter(symbol__in=in_file).values_list("symbol", "currency"))

    errors = []
    for record in book.instruments:
        if record.underlying and record.underlying not in symbols:
            errors.append(f"{record.path}.underlying: unknown instrument {record.underlying!r}")
        currency = record.values.get("currency", stored_currency.get(record.symbol, HKD))
        if currency not in currencies:
            errors.append(f"{record.path}.currency: no FX rate for {currency!r} in the file or the database")
    for account in book.accounts:
        if account.desk and account.desk not in desk_codes:
            errors.append(f"{account.path}.desk: unknown desk {account.desk!r}")
        for currency, (path, _amount) in (account.cash or {}).items():
            if currency not in currencies:
                errors.append(f"{path}: no FX rate for {currency!r} in the file or the database")
        for position in account.positions or ():
            if position.symbol not in symbols:
                errors.append(f"{position.path}.symbol: unknown instrument {position.symbol!r}")
    for record in book.lending:
        if record.symbol not in symbols:
            errors.append(f"{record.path}.symbol: unknown instrument {record.symbol!r}")
    if errors:
        raise BookInvalid(errors)


def _refuse_other_capitals(model, field: str, kind: str, new: list) -> None:
    """Raise :class:`BookInvalid` if a record about to be created is stored in other capitals (m1 when
    M1 is stored): the database holds one of them, and the desk could not tell them apart. Only new
    records are looked up, so importing a known book again costs nothing more."""
    stored: dict[str, str] = {}
    folded = sorted({fold(getattr(record, field)) for record in new})
    for start in range(0, len(folded), 5000):
        found = model.objects.annotate(key=Upper(field)).filter(key__in=folded[start : start + 5000])
        stored.update((fold(value), value) for value in found.values_list(field, flat=True))
    errors = [
        f"{record.path}.{field}: the {kind} {other!r} exists, differing only in capitals"
        for record in new
        if (other := stored.get(fold(getattr(record, field)))) is not None
    ]
    if errors:
        raise BookInvalid(errors)


def _import_fx(book: Book, as_of: dt.datetime, explicit_time: bool, result: ImportResult) -> set[str]:
    stored = {rate.currency: rate for rate in FxRate.objects.filter(currency__in=list(book.fx_rates))}
    changed = set()
    for currency, (_path, rate) in book.fx_rates.items():
        if currency == HKD:
            continue
        current = stored.get(currency)
        if current is None:
            FxRate.objects.create(currency=currency, rate=rate, as_of=as_of)
            result.count("fx_rates", created=1)
            changed.add(currency)
        elif current.rate != rate or (explicit_time and current.as_of != as_of):
            if current.rate != rate:
                changed.add(currency)
                if abs(rate - current.rate) > FX_MOVE_WARNING * current.rate:  # a slipped digit moves every
                    result.warnings.append(  # holding in it as much
                        f"fx_rates.{currency}: {rate.normalize():f} is {percent_move(rate, current.rate)} from the"
                        f" stored {current.rate.normalize():f}, more than {FX_MOVE_WARNING * 100:.0f}%: check it"
                    )
            current.rate, current.as_of = rate, as_of
            current.save(update_fields=["rate", "as_of"])
            result.count("fx_rates", updated=1)
    return changed


def _import_desks(book: Book, result: ImportResult) -> dict[str, Desk]:
    desks = {desk.code: desk for desk in Desk.objects.all()}
    _refuse_other_capitals(Desk, "code", "desk", [record for record in book.desks if record.code not in desks])
    for record in book.desks:
        desk = desks.get(record.code)
        if desk is None:
            desks[record.code] = Desk.objects.create(code=record.code, **record.values)
            result.count("desks", created=1)
        elif any(getattr(desk, key) != value for key, value in record.values.items()):
            for key, value in record.values.items():
                setattr(desk, key, value)
            desk.save()
            result.count("desks", updated=1)
    return desks


def _import_instruments(
    book: Book, as_of: dt.datetime, explicit_time: bool, result: ImportResult
) -> tuple[dict[str, Instrument], set[int]]:
    symbols = {record.symbol for record in book.instruments}
    symbols |= {r.underlying for r in book.instruments if r.underlying}
    symbols |= {p.symbol for a in book.accounts for p in a.positions or ()}
    symbols |= {r.symbol for r in book.lending}
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    _refuse_other_capitals(
        Instrument, "symbol", "instrument", [r for r in book.instruments if r.symbol not in instruments]
    )
    to_create, to_update, changed_ids, update_fields = [], [], set(), set()
    for record in book.instruments:
        values = dict(record.values)
        instrument = instruments.get(record.symbol)
        if instrument is None:
            if "price" in record.values:
                values["price_time"] = as_of
            instrument = Instrument(symbol=record.symbol, **values)
            instruments[record.symbol] = instrument
            to_create.append(instrument)
            continue
        changes = {key: value for key, value in values.items() if getattr(instrument, key) != value}
        if "price" in values and ("price" in changes or (explicit_time and instrument.price_time != as_of)):
            changes["price_time"] = as_of
        if "price" in values and instrument.held_price is not None:  # the book says what the price is
            changes |= {"held_price": None, "held_time": None}
        if changes:
            for key, value in changes.items():
                setattr(instrument, key, value)
            update_fields |= set(changes)
            to_update.append(instrument)
            if INSTRUMENT_RISK_FIELDS & set(changes):
                changed_ids.add(instrument.pk)
    Instrument.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        Instrument.objects.bulk_update(to_update, sorted(update_fields), batch_size=1000)
    result.count("instruments", created=len(to_create), updated=len(to_update))

    relinked = []
    for record in book.instruments:
        instrument = instruments[record.symbol]
        underlying = instruments[record.underlying] if record.underlying else None
        if record.underlying is not None and instrument.underlying_id != underlying.pk:
            instrument.underlying = underlying
            relinked.append(instrument)
    if relinked:
        Instrument.objects.bulk_update(relinked, ["underlying"], batch_size=1000)
    lacking = _underlyings_not_stock(book, instruments)
    for record in book.instruments:
        instrument = instruments[record.symbol]
        terms = {name: getattr(instrument, name) for name in ("option_type", "strike", "expiry")}
        if missing := missing_option_terms(instrument.kind, {**terms, "underlying": instrument.underlying_id}):
            lacking.append(f"{record.path}: an option needs its {', '.join(missing)}")
        result.warnings += [f"{record.path}: {problem}" for problem in rate_order_problems(instrument)]
    if lacking:
        raise BookInvalid(lacking)
    return instruments, changed_ids


def _underlyings_not_stock(book: Book, instruments: dict[str, Instrument]) -> list[str]:
    """An option's underlying is a stock: its cover is shares of it, and recovery buys them. So an
    option may not name an option, and an instrument options stand on may not become one; this also
    keeps underlyings from running in a circle. Checked after the file is written (in its transaction),
    against the options stored as well as the file's."""
    paths = {record.symbol: record.path for record in book.instruments}
    touched = [instruments[symbol].pk for symbol in paths]
    errors = []
    for start in range(0, len(touched), 5000):
        part = touched[start : start + 5000]
        found = (
            Instrument.objects.filter(Q(pk__in=part) | Q(underlying__in=part), underlying__isnull=False)
            .exclude(underlying__kind=InstrumentKind.STOCK)
            .values_list("symbol", "underlying__symbol", "underlying__kind")
            .order_by("symbol")
        )
        for symbol, underlying, kind in found:
            if symbol in paths:
                errors.append(f"{paths[symbol]}.underlying: {underlying!r} is an {kind}; an underlying must be a stock")
            if underlying in paths:
                errors.append(
                    f"{paths[underlying]}.kind: {underlying!r} is the underlying of {symbol!r};"
                    " an underlying must be a stock"
                )
    return list(dict.fromkeys(errors))


def rate_order_problems(instrument: Instrument) -> list[str]:
    """The margin rates, as the book and the stored instrument give them together, should run initial ≥
    maintenance ≥ force-liquidation, long and short (a short rate not given is the long one), as the
    admin requires: else a force call can ask less than its own shortfall. An upstream book is written
    as its system holds it; the import says so."""
    problems = []
    long = [instrument.im_rate, instrument.mm_rate, instrument.fm_rate]
    short = [
        given if given is not None else rate
        for given, rate in zip(
            (instrument.short_im_rate, instrument.short_mm_rate, instrument.short_fm_rate), long, strict=True
        )
    ]
    given = (instrument.short_im_rate, instrument.short_mm_rate, instrument.short_fm_rate) != (None, None, None)
    for side, (initial, maintenance, force) in (("long", long), ("short", short))[: 2 if given else 1]:
        if None not in (initial, maintenance, force) and not initial >= maintenance >= force:
            problems.append(
                f"the {side} margin rates do not run initial >= maintenance >= force-liquidation"
                f" ({initial}, {maintenance}, {force}); the admin would refuse them"
            )
    return problems


def _import_accounts(
    book: Book, desks: dict[str, Desk], instruments: dict[str, Instrument], result: ImportResult
) -> tuple[set[int], set[int]]:
    """Write the accounts, their cash and positions; return the accounts whose figures may have moved
    and those whose cash changed (a call those close is closed by a deposit)."""
    numbers = [record.account_no for record in book.accounts]
    accounts: dict[str, Account] = {}
    for start in range(0, len(numbers), 5000):
        accounts.update((a.account_no, a) for a in Account.objects.filter(account_no__in=numbers[start : start + 5000]))
    _refuse_other_capitals(Account, "account_no", "account", [r for r in book.accounts if r.account_no not in accounts])
    to_create, to_update, changed, update_fields = [], [], set(), set()
    for record in book.accounts:
        values = dict(record.values)
        if record.desk is not None:
            values["desk_id"] = desks[record.desk].pk if record.desk else None
        account = accounts.get(record.account_no)
        if account is None:
            account = Account(account_no=record.account_no, **values)
            accounts[record.account_no] = account
            to_create.append(account)
            continue
        changes = {key: value for key, value in values.items() if getattr(account, key) != value}
        if changes:
            for key, value in changes.items():
                setattr(account, key, value)
            update_fields |= set(changes)
            to_update.append(account)
            if ACCOUNT_RISK_FIELDS & set(changes):
                changed.add(account.pk)
    Account.objects.bulk_create(to_create, batch_size=2000)
    if to_update:
        Account.objects.bulk_update(to_update, sorted(update_fields), batch_size=2000)
    result.count("accounts", created=len(to_create), updated=len(to_update))
    changed |= {account.pk for account in to_create}

    with_cash = [accounts[r.account_no] for r in book.accounts if r.cash is not None]
    with_positions = [accounts[r.account_no] for r in book.accounts if r.positions is not None]
    cash_wanted = {
        accounts[r.account_no].pk: {currency: amount for currency, (_path, amount) in r.cash.items()}
        for r in book.accounts
        if r.cash is not None
    }
    positions_wanted = {
        accounts[r.account_no].pk: {instruments[p.symbol].pk: p.quantity for p in r.positions if p.quantity}
        for r in book.accounts
        if r.positions is not None
    }
    cash_changed = _replace_rows(
        CashBalance, "currency", "amount", [a.pk for a in with_cash], cash_wanted, "cash", result
    )
    changed |= cash_changed
    changed |= _replace_rows(
        Position, "instrument_id", "quantity", [a.pk for a in with_positions], positions_wanted, "positions", result
    )
    return changed, cash_changed


def _replace_rows(model, key_field, value_field, account_ids, wanted, label, result) -> set[int]:
    """Make each account's rows exactly ``wanted[account_id]`` ({key: value}); return accounts changed."""
    changed: set[int] = set()
    stale, to_update, to_create = [], [], []
    for start in range(0, len(account_ids), 5000):
        chunk = account_ids[start : start + 5000]
        existing: dict[int, dict] = {pk: {} for pk in chunk}
        for row in model.objects.filter(account_id__in=chunk):
            existing[row.account_id][getattr(row, key_field)] = row
        for account_id in chunk:
            rows, target = existing[account_id], wanted[account_id]
            for key, row in rows.items():
                if key not in target:
                    stale.append(row.pk)
                    changed.add(account_id)
                elif getattr(row, value_field) != target[key]:
                    setattr(row, value_field, target[key])
                    to_update.append(row)
                    changed.add(account_id)
            for key, value in target.items():
                if key not in rows:
                    to_create.append(model(account_id=account_id, **{key_field: key, value_field: value}))
                    changed.add(account_id)
    for start in range(0, len(stale), 5000):
        model.objects.filter(pk__in=stale[start : start + 5000]).delete()
    model.objects.bulk_update(to_update, [value_field], batch_size=2000)
    model.objects.bulk_create(to_create, batch_size=2000)
    result.count(label, created=len(to_create), updated=len(to_update) + len(stale))
    return changed


def _import_lending(book: Book, instruments: dict[str, Instrument], as_of, result: ImportResult) -> None:
    if errors := [
        f"{r.path}.symbol: {r.symbol!r} is an {instruments[r.symbol].kind}; only a stock is lent"
        for r in book.lending
        if instruments[r.symbol].kind != InstrumentKind.STOCK
    ]:
        raise BookInvalid(errors)
    ids = {instruments[r.symbol].pk: r.lendable for r in book.lending}
    stored = {row.pk: row for row in LendingAvailability.objects.filter(pk__in=list(ids))}
    for instrument_id, lendable in ids.items():
        row = stored.get(instrument_id)
        if row is None:
            LendingAvailability.objects.create(instrument_id=instrument_id, lendable=lendable, as_of=as_of)
            result.count("lending", created=1)
        elif row.lendable != lendable:
            row.lendable, row.as_of = lendable, as_of
            row.save(update_fields=["lendable", "as_of"])
            result.count("lending", updated=1)
