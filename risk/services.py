"""Writes to the book and to the stored figures. Every function here runs in a transaction."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from book import pending
from book.models import Account, CashBalance, Instrument, Position
from console.locks import advisory_lock, is_deadlock
from console.queue import Outage

from . import calculations, calls, selectors, sql_engine
from .calls import CallChanges
from .models import AccountRisk

logger = logging.getLogger(__name__)
alerts = logging.getLogger("margincall.alerts")

RECOMPUTE_CHUNK = 5000  # accounts per transaction, computed by the pure engine
# Accounts per transaction on PostgreSQL (risk.sql_engine): a 100,000-account book's holdings aggregate
# (about 200 MB) fits the default RECOMPUTE_WORK_MEM, and a book recomputed in one chunk is read once:
# in later chunks, a price that moved meanwhile is first followed by difference for the accounts of
# the chunks not yet read.
SQL_RECOMPUTE_CHUNK = 100_000
STORED_FIELDS = [*AccountRisk.FIGURE_FIELDS, "computed_at"]

# While set (the trial of an admin's save, ``risk.admin.CallsImpact``), each recompute adds to it the
# call changes of the accounts it was asked for: what the save does to calls. Calls the market moves
# meanwhile (a pass that commits during the trial; on PostgreSQL, the other holders of a price followed
# on the way) are not the save's doing, and are left out.
asked_call_changes: ContextVar[CallChanges | None] = ContextVar("asked_call_changes", default=None)


@dataclass
class RecomputeResult:
    accounts: int = 0
    positions: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # account_no -> why
    moved: int = 0  # accounts whose stored figures changed
    calls: CallChanges = field(default_factory=CallChanges)
    account_ids: list[int] = field(default_factory=list, repr=False)  # the accounts read

    def add(self, other: RecomputeResult) -> None:
        self.accounts += other.accounts
        self.positions += other.positions
        self.failed.update(other.failed)
        self.moved += other.moved
        self.calls.add(other.calls)


def _account_chunks(account_ids: Iterable[int] | None, chunk_size: int) -> Iterator[dict]:
    """Lookups on account ids (``{"gte": .., "lte": ..}`` or ``{"in": [..]}``) covering the accounts to
    recompute, a chunk at a time."""
    if account_ids is None:
        ids = Account.objects.order_by("pk").values_list("pk", flat=True)
        last = 0
        while True:
            chunk = list(ids.filter(pk__gt=last)[:chunk_size])
            if not chunk:
                return
            # A contiguous key range keeps the position and cash reads on their (account, ...) indexes.
            yield {"gte": chunk[0], "lte": chunk[-1]}
            last = chunk[-1]
    else:
        ordered = sorted(set(account_ids))
        for start in range(0, len(ordered), chunk_size):
            yield {"in": ordered[start : start + chunk_size]}


def recompute_accounts(
    *,
    account_ids: Iterable[int] | None = None,
    holders_of: Iterable[int] | None = None,
    now: datetime | None = None,
    at: datetime | None = None,
    causes: Mapping[int, str] | None = None,
    chunk_size: int | None = None,
    at_of: Callable[[list[int]], Mapping[int, datetime]] | None = None,
    say_failed: bool = True,
) -> RecomputeResult:
    """Recompute and store the figures of these accounts (the holders of the instruments ``holders_of``;
    all when both are None), then
    open, follow and close their margin calls. ``at`` is when the change that caused this happened
    (default ``now``), or per account ``at_of`` (see :func:`calls.sync_calls`); ``causes`` gives a
    close cause per account (default: the market). Accounts it could not recompute (``failed``) are
    logged as an error, unless ``say_failed`` is False: a caller that says it itself (a pass alerts, an
    import or an admin's save is refused with the reasons, so nothing was stored).

    Each chunk is one transaction that holds the recompute lock from reading the book to storing
    figures and calls, so a slower recompute never overwrites a newer one's figures."""
    now = now or timezone.now()
    at = at or now
    result = RecomputeResult()
    # The accounts asked for, when some are: any other account a chunk touches is an outsider.
    asked = None
    if account_ids is not None and holders_of is None:
        account_ids = asked = set(account_ids)
    chunk_size = chunk_size or (SQL_RECOMPUTE_CHUNK if sql_engine.available() else RECOMPUTE_CHUNK)
    if holders_of is not None:
        if sql_engine.available():  # the holders found by the statement itself, however many
            chunks = [{"holders_of": sorted(set(holders_of))}]
        else:
            chunks = _account_chunks(selectors.accounts_holding(holders_of), chunk_size)
    else:
        chunks = _account_chunks(account_ids, chunk_size)
    for lookups in chunks:
        with transaction.atomic():
            _recompute_lock()
            result.add(_recompute_chunk(lookups, now, at, causes, asked, at_of))
    if result.failed and say_failed:
        logger.error("%s", NotRecomputed(result.failed))
    return result


RECOMPUTE_LOCK_KEY = 0x6D63_7263  # "mcrc"


def _recompute_lock() -> None:
    """Serialise recomputes across processes (and against book writes, whose triggers take it too)."""
    advisory_lock(RECOMPUTE_LOCK_KEY)


def _recompute_chunk(lookups, now, at, causes, asked: set[int] | None, at_of=None) -> RecomputeResult:
    """Store one chunk's figures (on PostgreSQL by :mod:`risk.sql_engine`, the accounts it refuses and
    every account elsewhere by the pure engine), then bring the chunk's calls in line.

    On PostgreSQL, recomputing some accounts (``asked``) from their book first follows every price that
    moved for every holder (``Stored.beyond``); those not asked for are outsiders. Their figures moved with
    the market, now: their calls follow at this moment, whatever ``at`` and ``causes`` say of the
    accounts asked for; one that cannot be stored is alerted on, not counted against them; and the
    counts are of the chunk's own accounts."""
    outsiders: set[int] = set()
    uncounted: set[int] = set()
    if sql_engine.available():
        stored = sql_engine.store_figures(lookups, now=now)
        # Accounts of other chunks are counted in theirs; ``asked`` None: every account was asked for.
        uncounted = stored.beyond
        outsiders = uncounted - asked if asked is not None else set()
        result = RecomputeResult(accounts=stored.accounts, positions=stored.positions)
        moved = stored.moved
        account_ids = stored.to_sync
        refused = [account_id for account_id in stored.refused if account_id not in outsiders]
        if refused:
            described, more_moved = _store_with_pure_engine({"in": refused}, now)
            result.add(described)
            moved = [*moved, *more_moved]
        refused_outside = [account_id for account_id in stored.refused if account_id in outsiders]
        if refused_outside:
            described, more_moved = _store_with_pure_engine({"in": refused_outside}, now)
            if described.failed:
                alerts.error("%s, after prices they hold moved", HoldersNotRecomputed(described.failed))
            moved = [*moved, *more_moved]
        _follow_the_book(stored.account_ids, refused=stored.refused)
    else:
        result, moved = _store_with_pure_engine(lookups, now)
        account_ids = result.account_ids
    result.moved = sum(1 for account_id in moved if account_id not in uncounted)
    inside = [account_id for account_id in account_ids if account_id not in outsiders]
    result.calls = calls.sync_calls(inside, at=at, moved=moved, causes=causes, now=now, at_of=at_of)
    if (recording := asked_call_changes.get()) is not None:
        recording.add(result.calls)
    outside = [account_id for account_id in account_ids if account_id in outsiders]
    if outside:
        result.calls.add(calls.sync_calls(outside, at=now, moved=moved, now=now))
    return result


def _follow_the_book(
    stored: Iterable[int], problems: Mapping[int, str] | None = None, *, refused: Iterable[int] = ()
) -> None:
    """Say, on the figures row, why an account's figures could not be stored (``problems``), and clear it
    once they are (``stored``, less ``refused``). The rows that say something are few and a partial index
    finds them: with none, and no new problem, nothing more is read or done, however many were stored."""
    problems = problems or {}
    said = dict(AccountRisk.objects.exclude(figures_problem="").values_list("account_id", "figures_problem"))
    if said:
        refused = set(refused)
        cleared = [account_id for account_id in said.keys() & set(stored) if account_id not in refused]
        if cleared:
            AccountRisk.objects.filter(account_id__in=cleared).update(figures_problem="")
    by_reason: dict[str, list[int]] = defaultdict(list)
    for account_id, why in problems.items():
        if said.get(account_id) != why[:300]:
            by_reason[why[:300]].append(account_id)
    for why, account_ids in by_reason.items():
        AccountRisk.objects.filter(account_id__in=account_ids).update(figures_problem=why)


def _store_with_pure_engine(lookups, now) -> tuple[RecomputeResult, list[int]]:
    """Compute, round and store these accounts' figures with :mod:`risk.calculations`; an account it
    cannot compute or store is logged and left out. Returns the result and the accounts that moved."""
    fx = selectors.fx_rates_current()
    coefficients = selectors.call_coefficients()
    valuations: dict[int, calculations.Valuation | Exception] = {}
    pk_filter = Q(**{f"pk__{lookup}": value for lookup, value in lookups.items()})
    account_filter = Q(**{f"account_id__{lookup}": value for lookup, value in lookups.items()})
    accounts = list(
        Account.objects.filter(pk_filter).values_list(
            "pk", "account_no", "kind", "credit_limit", "accrued_interest", "debt_margin", "trading_limit"
        )
    )
    holdings: dict[int, list] = defaultdict(list)
    positions = list(Position.objects.filter(account_filter).values_list("account_id", "instrument_id", "quantity"))
    missing = {instrument_id for _, instrument_id, _ in positions if instrument_id not in valuations}
    for instrument_id, terms in selectors.instrument_terms(missing).items():
        try:
            valuations[instrument_id] = calculations.value_instrument(terms, fx)
        except calculations.MissingFxRate as error:
            valuations[instrument_id] = error
    for account_id, instrument_id, quantity in positions:
        holdings[account_id].append((valuations[instrument_id], quantity))
    cash = selectors.cash_by_account(account_filter)

    before = {
        row[0]: tuple(row[1:])
        for row in AccountRisk.objects.filter(account_filter).values_list("account_id", *AccountRisk.FIGURE_FIELDS)
    }
    result = RecomputeResult()
    rows = []
    moved = []
    problems: dict[int, str] = {}
    for pk, account_no, kind, credit_limit, accrued_interest, debt_margin, trading_limit in accounts:
        account_holdings = holdings.get(pk, ())
        try:
            for valuation, _quantity in account_holdings:
                if isinstance(valuation, Exception):
                    raise valuation
            figures = calculations.figures_from_valuations(
                account=calculations.AccountTerms(credit_limit, accrued_interest, debt_margin, trading_limit),
                total_cash=calculations.total_cash_hkd(cash.get(pk, {}), fx),
                holdings=account_holdings,
                call_coefficient=coefficients[kind],
            )
            stored = calculations.round_figures(figures).as_dict()
        except calculations.MissingFxRate as error:
            why = str(error)
        except ArithmeticError:  # a figure past the engine's 50 digits: rounding it is refused
            why = "its figures are too large to compute"
        else:
            why = _too_large_to_store(stored)
        if why:
            result.failed[account_no] = why
            problems[pk] = why
            continue
        stored["call_type"] = stored["call_type"] or ""
        if before.get(pk) != tuple(stored[name] for name in AccountRisk.FIGURE_FIELDS):
            # Only figures that changed are written: computed_at is when they last changed.
            rows.append(AccountRisk(account_id=pk, computed_at=now, **stored))
            moved.append(pk)
        result.accounts += 1
        result.positions += len(account_holdings)
    AccountRisk.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["account"],
        update_fields=STORED_FIELDS,
    )
    result.account_ids = [pk for pk, *_ in accounts]
    _follow_the_book(result.account_ids, problems, refused=problems)
    return result, moved


def follow_prices(
    *, instrument_ids: Iterable[int], at: datetime | None = None, now: datetime | None = None
) -> RecomputeResult:
    """After prices moved: recompute the instruments' holders, open, follow or close their calls, then
    clear the instruments' pending marks (those no newer price has bumped meanwhile). A trigger is
    never later than now: a price stamped a moment ahead of this clock happened now."""
    now = now or timezone.now()
    at = min(at or now, now)
    instrument_ids = sorted(set(instrument_ids))
    read_at = timezone.now()
    seen = pending.versions(instrument_ids)
    result = recompute_accounts(
        holders_of=instrument_ids, at=at, now=now, at_of=_tick_times(instrument_ids), say_failed=False
    )
    if result.failed:
        # Some holders' figures did not follow (a missing FX rate, figures too large to store): the
        # marks of the prices they hold stay, so the sweep retries and alerts until the book is
        # repaired; the other prices were followed by all their holders.
        failure = HoldersNotRecomputed(result.failed)
        stuck = set(
            Position.objects.filter(account__account_no__in=list(result.failed), instrument_id__in=instrument_ids)
            .values_list("instrument_id", flat=True)
            .distinct()
        ) or set(instrument_ids)
        pending.failed(sorted(stuck), failure)
        alerts.error("%s", failure)
        seen = {instrument_id: version for instrument_id, version in seen.items() if instrument_id not in stuck}
    pending.clear(seen, read_at=read_at)
    return result


def _tick_times(instrument_ids: list[int]) -> Callable[[list[int]], dict[int, datetime]]:
    """Per account: when the latest of these prices it holds was stamped (a pass follows many ticks;
    a call opens or closes at its own account's)."""

    def at_of(account_ids: list[int]) -> dict[int, datetime]:
        found = {}
        for start in range(0, len(account_ids), 5000):
            rows = (
                Position.objects.filter(
                    account_id__in_ids=account_ids[start : start + 5000], instrument_id__in_ids=instrument_ids
                )
                .values("account_id")
                .annotate(at=Max("instrument__price_time"))
            )
            found.update((row["account_id"], row["at"]) for row in rows if row["at"] is not None)
        return found

    return at_of


# Passes that cannot even read the prices waiting (the database away): said as an outage, once when it
# starts, every 5 minutes while it lasts, and when it is over; not once per queued pass.
PASSES_AWAY = Outage(remind_seconds=300)


@dataclass
class PassResult:
    """One pass over the prices waiting for their holders' recompute."""

    instruments: int = 0
    lag_seconds: float = 0.0  # how long the oldest of those prices waited for its figures
    seconds: float = 0.0  # how long the pass took, from when it had the recompute lock
    waited_seconds: float = 0.0  # how long it waited for the lock (for the pass before it)
    recomputed: RecomputeResult = field(default_factory=RecomputeResult)


def follow_pending(*, marks: list | None = None, now: datetime | None = None) -> PassResult:
    """Recompute, once, the union of the holders of every price still waiting for it (or of these
    pending ``marks``): however many ticks came in since the last pass (several for one stock: its
    latest price), one pass follows them all. Logs the lag (the age of the oldest price it followed,
    from its arrival to its stored figures); past ``FIGURES_STALE_SECONDS`` it is alerted on. A failure
    is counted on the marks and raised (alerted on, a deadlock only said); the marks stay for the next
    pass or the sweep.

    On PostgreSQL the prices are read under the recompute lock, in the pass's transaction: a pass
    queued while another runs waits for it, then follows every price that came in meanwhile, not only
    those waiting when it was queued (those would leave a price that first moved during the wait to a
    third pass). On SQLite, which lets one writer at a time, each chunk of the recompute is its own
    transaction, so ticks and traders' actions are not held up for a whole pass. Of the ``marks``
    given (the sweep's, read before), those a pass cleared meanwhile are left out."""
    started = timezone.now()
    waiting: list = list(marks or [])
    ids: list[int] = [mark.instrument_id for mark in waiting]
    postgresql = connection.vendor == "postgresql"
    try:
        with transaction.atomic() if postgresql else nullcontext():
            _recompute_lock()
            locked = timezone.now()
            if marks is None:
                waiting = pending.waiting()
            else:
                still = pending.versions(ids)
                waiting = [mark for mark in waiting if mark.instrument_id in still]
            PASSES_AWAY.over("recompute passes run again")
            if not waiting:
                return PassResult()
            ids = [mark.instrument_id for mark in waiting]
            oldest = min(mark.since for mark in waiting)
            latest = Instrument.objects.filter(pk__in=ids).aggregate(latest=Max("price_time"))["latest"]
            recomputed = follow_prices(instrument_ids=ids, at=latest, now=now)
    except Exception as error:
        if not waiting:  # not even the prices could be read: the database (or the lock) is out of reach
            PASSES_AWAY.failed("recompute passes cannot run (%s): figures are not following the market", error)
            raise
        pending.failed(ids, error)
        if is_deadlock(error):  # another writer won, and has gone: recompute_pass runs it again, the sweep later
            logger.warning("recompute of the holders of instruments %s deadlocked with another writer", ids)
            raise
        alerts.error(
            "recompute of the holders of instruments %s failed (attempt %d): %s; the next pass or the sweep retries",
            ids,
            max(mark.attempts for mark in waiting) + 1,
            error,
            exc_info=True,
        )
        raise
    done = timezone.now()
    result = PassResult(
        instruments=len(ids),
        lag_seconds=max(0.0, (done - oldest).total_seconds()),
        seconds=(done - locked).total_seconds(),
        waited_seconds=(locked - started).total_seconds(),
        recomputed=recomputed,
    )
    level = logging.WARNING if result.lag_seconds > settings.FIGURES_STALE_SECONDS else logging.INFO
    (alerts if level == logging.WARNING else logger).log(
        level,
        "recompute pass: %d price(s), %d holder(s), %d moved, %d failed; lag %.0f ms, waited %.0f ms for the"
        " pass before, pass %.0f ms",
        result.instruments,
        recomputed.accounts,
        recomputed.moved,
        len(recomputed.failed),
        result.lag_seconds * 1000,
        result.waited_seconds * 1000,
        result.seconds * 1000,
    )
    return result


class NotRecomputed(Exception):
    """Accounts whose figures could not be recomputed, the first five named with why."""

    noun = "account(s)"

    def __init__(self, failed: Mapping[str, str]):
        shown = "; ".join(f"{no}: {why}" for no, why in sorted(failed.items())[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(f"{len(failed)} {self.noun} not recomputed: {shown}{more}")


class HoldersNotRecomputed(NotRecomputed):
    noun = "holder(s)"


def _too_large_to_store(stored: dict) -> str:
    """Why these figures cannot be stored (a figure wider than its column), or "" when they can. Inputs
    that each fit (a huge cash amount at a huge FX rate) can still multiply past any column."""
    for name in AccountRisk.FIGURE_FIELDS:
        value = stored[name]
        if isinstance(value, Decimal) and not value.is_zero():
            column = AccountRisk._meta.get_field(name)
            if value.adjusted() >= column.max_digits - column.decimal_places:
                return f"its {name} ({value}) is too large to store"
    return ""


def affected_accounts(
    *,
    account_ids: Iterable[int] = (),
    instrument_ids: Iterable[int] = (),
    currencies: Iterable[str] = (),
) -> set[int]:
    """Accounts whose figures depend on what changed: the accounts themselves, holders of the
    instruments, and anyone with cash or holdings in the currencies."""
    affected = set(account_ids)
    instrument_ids = set(instrument_ids)
    currencies = set(currencies)
    if currencies:
        instrument_ids |= set(Instrument.objects.filter(currency__in=currencies).values_list("pk", flat=True))
        affected |= set(CashBalance.objects.filter(currency__in=currencies).values_list("account_id", flat=True))
    if instrument_ids:
        affected |= set(selectors.accounts_holding(instrument_ids))
    return affected
