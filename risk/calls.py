"""A margin call's life (docs/domain.md): open, follow, escalate or ease, close; and the trader's
actions on a call. The recompute calls :func:`sync_calls` for every chunk of accounts it stores, in the same
transaction, so a call never disagrees with the figures it was decided from."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from book.lookups import among
from book.trading_calendar import (
    HONG_KONG,
    LAST_YEAR,
    call_deadline,
    close_of_sessions_opening_after,
    next_session,
    session_close,
    sessions_after,
)
from console import audit

from . import live, selectors, signals, snapshots
from .models import (
    CALL_KINDS,
    AccountRisk,
    CallRemark,
    CallStatus,
    CallType,
    CloseCause,
    DeadlineChange,
    MarginCall,
    SnapshotKind,
)


@dataclass
class CallChanges:
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)  # closed by the market, called again within the window
    escalated: list[int] = field(default_factory=list)
    eased: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    followed: list[int] = field(default_factory=list)  # open calls whose account's figures moved

    def add(self, other: CallChanges) -> None:
        for name in ("opened", "reopened", "escalated", "eased", "closed", "followed"):
            getattr(self, name).extend(getattr(other, name))

    def call_ids(self) -> list[int]:
        return sorted({*self.opened, *self.reopened, *self.escalated, *self.eased, *self.closed, *self.followed})


logger = logging.getLogger(__name__)

# The figures a call follows while open, after its type.
FOLLOWED = ("call_type", "call_amount", "nav_ratio", "liquid_nav", "equity")
# Closes that are not final: a call the market (or an admin's change, or a move to the cash kind) closed
# reopens if called again soon.
REOPENABLE = (CloseCause.MARKET, CloseCause.ADMIN, CloseCause.CASH_ACCOUNT)
REOPENED_FIELDS = (
    "status",
    "closed_at",
    "close_cause",
    "reopen_until",
    "reopened_count",
    "auto_liquidate_at",
    "auto_liquidation_note",
    "updated_at",
)


# The one order every writer locks calls in (a pass takes its accounts' calls so): two writers of the
# same calls wait for each other and never deadlock.
LOCK_ORDER = ("account_id", "pk")


def sync_calls(
    account_ids: Iterable[int],
    *,
    at: datetime,
    moved: Iterable[int] = (),
    causes: Mapping[int, str] | None = None,
    default_cause: str = CloseCause.MARKET,
    now: datetime | None = None,
    at_of: Callable[[list[int]], Mapping[int, datetime]] | None = None,
) -> CallChanges:
    """Bring these accounts' calls in line with their stored figures: open a call for an account
    that has a call type and none open, follow or re-type an open one, close one whose call amount
    is 0 with its cause. ``at`` is when the change that caused this happened (a tick's time, a
    book's as_of); ``at_of``, where given, says it per account for those whose call opens, reopens
    or closes (a pass of many ticks: each account's own latest tick, never later than ``at``);
    ``moved`` are accounts whose figures changed; ``causes`` a close cause per account.
    Runs inside the caller's transaction; open calls are locked so two workers never decide the
    same call twice."""
    now = now or timezone.now()
    account_ids = sorted(set(account_ids))
    moved = set(moved)
    causes = causes or {}
    changes = CallChanges()
    if not account_ids:
        return changes
    open_calls = {
        account_id: (call_id, call_type, kind, triggered_at)
        for call_id, account_id, call_type, kind, triggered_at in MarginCall.objects.select_for_update()
        .filter(account_id__in_ids=account_ids, closed_at__isnull=True)
        .order_by(*LOCK_ORDER)
        .values_list("pk", "account_id", "call_type", "kind", "triggered_at")
    }
    # Only the figures that can open, follow or close a call: an account with an open call, or one whose
    # figures give a call type. A pass over the holders of a busy stock reads a tenth of them, not all.
    figures = {
        row[0]: row[1:]
        for row in AccountRisk.objects.filter(account_id__in_ids=account_ids)
        .filter(Q(call_type__gt="") | Q(account_id__in_ids=sorted(open_calls)))
        .values_list("account_id", "account__kind", *FOLLOWED)
    }
    sessions = None
    wanted: dict[int, tuple[str, str, dict]] = {}  # accounts called with no open call: (kind, type, figures)
    to_open: list[MarginCall] = []
    to_follow: dict[str, list[int]] = {}  # call type -> open calls that follow their account's figures
    to_close: dict[str, list[tuple[int, int]]] = {}
    rekinded: dict[str, list[int]] = {}  # account kind -> open calls of the other kind
    for account_id in account_ids:
        row = figures.get(account_id)
        current = open_calls.get(account_id)
        if row is None:  # no call type and no call; or, with a call, no figures (its recompute failed)
            continue
        kind, call_type, call_amount, nav_ratio, liquid_nav, equity = row
        has_call = bool(call_type) and kind in CALL_KINDS and call_amount > 0
        followed = {"call_amount": call_amount, "nav_ratio": nav_ratio, "liquid_nav": liquid_nav, "equity": equity}
        if current is None:
            if has_call:
                wanted[account_id] = (kind, call_type, followed)
            continue
        call_id, open_type, open_kind, _triggered_at = current
        if has_call and open_kind != kind:  # the account moved to the other call kind: so does its call
            rekinded.setdefault(kind, []).append(call_id)
        if not has_call:
            cause = causes.get(account_id, default_cause)
            if kind not in CALL_KINDS and cause in REOPENABLE:  # no longer called, whatever its figures say
                cause = CloseCause.CASH_ACCOUNT
            to_close.setdefault(cause, []).append((call_id, account_id))
            to_follow.setdefault(open_type, []).append(call_id)
            continue
        if call_type != open_type:
            if call_type == CallType.FORCE_CALL:
                changes.escalated.append(call_id)
            elif open_type == CallType.FORCE_CALL:
                changes.eased.append(call_id)
            else:
                changes.followed.append(call_id)
        elif account_id in moved or open_kind != kind:
            changes.followed.append(call_id)
        else:
            continue
        to_follow.setdefault(call_type, []).append(call_id)
    for new_kind, call_ids in rekinded.items():  # its list and its rule set are the account's kind's
        MarginCall.objects.filter(pk__in=call_ids).update(kind=new_kind, updated_at=now)

    changing = [*wanted, *(account_id for pairs in to_close.values() for _call_id, account_id in pairs)]
    times = {
        account_id: min(moment, at) for account_id, moment in (at_of(changing) if at_of and changing else {}).items()
    }

    def when(account_id: int) -> datetime:
        return times.get(account_id, at)

    last_closed = _last_closed(wanted)
    for account_id, closed_at in last_closed.items():
        # Never before the account's last call ended: a change stamped earlier (a tick in flight while a
        # trader ended the call, a book replayed late) comes after that end, so two calls never overlap.
        if when(account_id) < closed_at:
            times[account_id] = closed_at
    reopenable = _reopenable(last_closed, when)
    to_reopen: list[MarginCall] = []
    reopened_pairs: list[tuple[int, int]] = []
    for account_id, (kind, call_type, followed) in wanted.items():
        earlier = reopenable.get(account_id)
        if earlier is not None:
            reopened_pairs.append((earlier.pk, account_id))
            if call_type == CallType.FORCE_CALL and earlier.call_type != CallType.FORCE_CALL:
                changes.escalated.append(earlier.pk)  # back as a force call: told and snapshotted as one
            status = CallStatus.EXCEPTION if earlier.exception_at else CallStatus.OPEN
            # An auto-liquidation time that came while the call was closed is not acted on when it reopens
            # (its orders would be placed the minute it is back); nor is any on a call back as an exception.
            auto_at = earlier.auto_liquidate_at
            keep_auto = auto_at is not None and auto_at > now and status == CallStatus.OPEN
            to_reopen.append(
                MarginCall(
                    pk=earlier.pk,
                    kind=kind,  # the account's kind now: its list and its rule set
                    status=status,
                    auto_liquidate_at=auto_at if keep_auto else None,
                    auto_liquidation_note=earlier.auto_liquidation_note if keep_auto else {},
                    call_type=call_type,
                    closed_at=None,
                    close_cause="",
                    reopen_until=None,
                    reopened_count=earlier.reopened_count + 1,
                    updated_at=now,
                    **followed,
                )
            )
            continue
        sessions = sessions if sessions is not None else selectors.deadline_sessions()
        to_open.append(
            MarginCall(
                account_id=account_id,
                kind=kind,
                call_type=call_type,
                trigger_type=call_type,
                triggered_at=when(account_id),
                deadline=call_deadline(when(account_id), sessions[kind]),
                call_amount_at_trigger=followed["call_amount"],
                nav_ratio_at_trigger=followed["nav_ratio"],
                updated_at=now,
                **followed,
            )
        )
    if to_reopen:
        MarginCall.objects.bulk_update(
            to_reopen,
            [*REOPENED_FIELDS, "kind", *FOLLOWED],  # its type too: it is back as what the figures call it
            batch_size=500,
        )
        changes.reopened = [call.pk for call in to_reopen]
        snapshots.take(
            reopened_pairs, kind=SnapshotKind.REOPENED, key=f"reopened:{now.isoformat()}", at=at, times=times
        )
    if to_open:
        MarginCall.objects.bulk_create(to_open, batch_size=1000, ignore_conflicts=True)
        opened = list(
            MarginCall.objects.filter(
                account_id__in=[call.account_id for call in to_open],
                closed_at__isnull=True,
                triggered_at__in={call.triggered_at for call in to_open},
                updated_at=now,
            ).values_list("pk", "account_id")
        )
        changes.opened = [call_id for call_id, _ in opened]
        snapshots.take(opened, kind=SnapshotKind.TRIGGER, key="trigger", at=at, times=times)
    _follow(to_follow, now)
    if changes.escalated:
        pairs = MarginCall.objects.filter(pk__in=changes.escalated).values_list("pk", "account_id")
        snapshots.take(pairs, kind=SnapshotKind.FORCE_CALL, key=f"force_call:{now.isoformat()}", at=at, times=times)
    if to_close:
        _close(to_close, open_calls, when, now)
        changes.closed.extend(call_id for pairs in to_close.values() for call_id, _account_id in pairs)
    changed = changes.call_ids()
    if changed:
        transaction.on_commit(lambda: live.publish(changed))
    if changes.opened or changes.reopened or changes.escalated:
        told = (list(changes.opened), list(changes.reopened), list(changes.escalated))
        transaction.on_commit(lambda: _tell(*told))
    return changes


FOLLOW_BATCH = 5000


def _follow(calls_by_type: Mapping[str, list[int]], now: datetime) -> None:
    """Set these open calls' type and copy in their account's stored figures: one update joined to the
    figures per call type (and per batch), however many calls follow."""
    quote = connection.ops.quote_name
    calls_table = quote(MarginCall._meta.db_table)
    figures = ", ".join(f"{quote(name)} = r.{quote(name)}" for name in FOLLOWED[1:])
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for call_type, call_ids in calls_by_type.items():
            for start in range(0, len(call_ids), FOLLOW_BATCH):
                batch = call_ids[start : start + FOLLOW_BATCH]
                listed, params = among(batch, connection)
                cursor.execute(
                    f"UPDATE {calls_table} SET call_type = %s, updated_at = %s, {figures}"
                    f" FROM {quote(AccountRisk._meta.db_table)} r"
                    f" WHERE r.account_id = {calls_table}.account_id AND {calls_table}.id {listed}",
                    [call_type, stamp, *params],
                )


def _tell(opened: list[int], reopened: list[int], escalated: list[int]) -> None:
    for receiver, outcome in signals.calls_changed.send_robust(
        sender=MarginCall, opened=opened, reopened=reopened, escalated=escalated
    ):
        if isinstance(outcome, Exception):
            logger.error("%s failed on calls_changed", receiver, exc_info=outcome)


def _close(to_close: Mapping[str, list[tuple[int, int]]], open_calls: Mapping[int, tuple], when, now) -> None:
    """Close these calls, by cause: a close snapshot first (it records the figures the call closed on),
    then the close, each at its account's moment (never before the call opened: a book older than the
    call, a statement replayed late, closes it when it opened), in one statement a batch. A call the
    market (or an admin's change) closed may reopen until the close of its rule set's
    ``reopen_sessions``-th session that opens after that moment."""
    reopen_by_kind = selectors.reopen_sessions() if any(cause in REOPENABLE for cause in to_close) else {}
    windows: dict[tuple[datetime, int], datetime] = {}  # one calendar lookup per moment and number
    closed: list[MarginCall] = []
    pairs, moments = [], {}
    for cause, calls in to_close.items():
        for call_id, account_id in calls:
            _call_id, _type, kind, triggered_at = open_calls[account_id]
            moment = moments[account_id] = max(when(account_id), triggered_at)
            reopen = reopen_by_kind.get(kind, 0) if cause in REOPENABLE else 0
            if reopen and (moment, reopen) not in windows:
                windows[(moment, reopen)] = close_of_sessions_opening_after(moment, reopen)
            closed.append(
                MarginCall(
                    pk=call_id,
                    status=CallStatus.CLOSED,
                    closed_at=moment,
                    close_cause=cause,
                    reopen_until=windows[(moment, reopen)] if reopen else None,
                    updated_at=now,
                )
            )
            pairs.append((call_id, account_id))
    # Keyed by this moment: a call that closes again on a tick of the same time gets its own.
    snapshots.take(pairs, kind=SnapshotKind.CLOSE, key=f"close:{now.isoformat()}", at=now, times=moments)
    MarginCall.objects.bulk_update(
        closed, ["status", "closed_at", "close_cause", "reopen_until", "updated_at"], batch_size=1000
    )


def _last_closed(accounts: Iterable[int]) -> dict[int, datetime]:
    """Per account that had a call: when its last one closed."""
    if not accounts:
        return {}
    return dict(
        MarginCall.objects.filter(account_id__in=list(accounts), closed_at__isnull=False)
        .values("account_id")
        .annotate(last=Max("closed_at"))
        .values_list("account_id", "last")
    )


def _reopenable(last: Mapping[int, datetime], when) -> dict[int, MarginCall]:
    """Per account called again (``last``: when its last call closed): that call, if the market (or an
    admin's change) closed it and its reopen window still holds the moment of its account's change
    (``when``), locked. A last call closed by a deposit, a liquidation or a trader is final, whatever
    came before it."""
    if not last:
        return {}
    found: dict[int, MarginCall] = {}
    for call in (
        MarginCall.objects.select_for_update()
        .filter(account_id__in=list(last), close_cause__in=REOPENABLE, reopen_until__isnull=False)
        .filter(reopen_until__gte=min(when(account_id) for account_id in last))
        .order_by(*LOCK_ORDER)
        .only(
            "pk",
            "account_id",
            "exception_at",
            "reopened_count",
            "call_type",
            "closed_at",
            "reopen_until",
            "auto_liquidate_at",
            "auto_liquidation_note",
        )
    ):
        if call.closed_at != last[call.account_id]:
            continue  # not the account's last call
        if when(call.account_id) <= call.reopen_until:
            found[call.account_id] = call  # of two closed at once, the later (higher id)
    return found


def elapsed_hours(triggered_at: datetime, now: datetime) -> int:
    """Whole hours since the trigger, rounded up, at least 1."""
    seconds = (now - triggered_at).total_seconds()
    return max(1, math.ceil(seconds / 3600))


def is_long_outstanding(triggered_at: datetime, now: datetime, days: int) -> bool:
    return now - triggered_at > timedelta(days=days)


# Trader actions. Each runs in one transaction and writes its audit entry in it.


class CallActionRefused(Exception):
    """An action that cannot apply to a call as it is now (e.g. it has closed); the message says why."""


class AlreadyDone(CallActionRefused):
    """The same action was done a moment ago (a form sent twice): nothing more is done."""


# A remark the same trader saves again on the same call within this long is the same form sent twice.
REMARK_TWICE = timedelta(seconds=10)


def locked(call_ids: Iterable[int]):
    """These calls, locked (in the caller's transaction) in the one order every writer takes them in."""
    return MarginCall.objects.select_for_update(of=("self",)).filter(pk__in=list(call_ids)).order_by(*LOCK_ORDER)


def lock(call_ids: Iterable[int]) -> None:
    """Lock these calls before changing many at once (an ``update`` takes its rows in no set order)."""
    list(locked(call_ids).values_list("pk", flat=True))


def _locked_open(call_ids: Iterable[int]):
    return locked(call_ids).filter(closed_at__isnull=True)


@transaction.atomic
def mark_exception(
    call_ids: Iterable[int], *, reason: str, user, now: datetime | None = None, auto_cleared: list | None = None
) -> list[int]:
    """Mark open calls as exception with a reason; returns the calls it changed. An exception is not
    liquidated automatically: a time set for that is cleared (kept, it would fire the moment the call
    is active again, however long ago it was); those calls are added to ``auto_cleared``."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise CallActionRefused(_("A reason is required to mark an exception."))
    call_ids = list(call_ids)
    marked = list(_locked_open(call_ids).filter(status=CallStatus.OPEN).values_list("pk", "auto_liquidate_at"))
    changed = [pk for pk, _at in marked]
    cleared = [pk for pk, at in marked if at is not None]
    MarginCall.objects.filter(pk__in=changed).update(
        status=CallStatus.EXCEPTION,
        exception_reason=reason,
        exception_by=user,
        exception_at=now,
        auto_liquidate_at=None,
        auto_liquidation_note={},
        updated_at=now,
    )
    detail = {"reason": reason, "changed": changed, **({"auto_cleared": cleared} if cleared else {})}
    if auto_cleared is not None:
        auto_cleared.extend(cleared)
    audit.record(user, "mark_exception", calls=call_ids, detail=detail, at=now)
    transaction.on_commit(lambda: live.publish(changed))
    return changed


@transaction.atomic
def unmark_exception(call_ids: Iterable[int], *, user, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    call_ids = list(call_ids)
    changed = list(_locked_open(call_ids).filter(status=CallStatus.EXCEPTION).values_list("pk", flat=True))
    MarginCall.objects.filter(pk__in=changed).update(
        status=CallStatus.OPEN, exception_reason="", exception_by=None, exception_at=None, updated_at=now
    )
    audit.record(user, "unmark_exception", calls=call_ids, detail={"changed": changed}, at=now)
    transaction.on_commit(lambda: live.publish(changed))
    return changed


@transaction.atomic
def end_call(call_id: int, *, reason: str, user, now: datetime | None = None) -> bool:
    """A trader ends an open call by hand, with a reason (cause ``manual``): final, never reopened. If
    the account is still called, its next recompute opens a new call. False if it had closed."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise CallActionRefused(_("A reason is required to end a call."))
    call = _locked_open([call_id]).only("pk", "account_id").first()
    audit.record(user, "end_call", calls=[call_id], detail={"reason": reason, "ended": call is not None}, at=now)
    if call is None:
        return False
    snapshots.take([(call.pk, call.account_id)], kind=SnapshotKind.CLOSE, key=f"close:{now.isoformat()}", at=now)
    MarginCall.objects.filter(pk=call.pk).update(
        status=CallStatus.CLOSED,
        closed_at=now,
        close_cause=CloseCause.MANUAL,
        close_reason=reason,
        reopen_until=None,
        updated_at=now,
    )
    transaction.on_commit(lambda: live.publish([call.pk]))
    return True


@transaction.atomic
def add_remark(call: MarginCall, *, text: str, user, now: datetime | None = None) -> CallRemark:
    now = now or timezone.now()
    text = text.strip()
    if not text:
        raise CallActionRefused(_("A remark cannot be empty."))
    lock([call.pk])  # two sendings of one form wait for each other here
    if CallRemark.objects.filter(call=call, author=user, text=text, created_at__gte=now - REMARK_TWICE).exists():
        raise AlreadyDone(_("This remark was saved a moment ago: it is not added twice."))
    remark = CallRemark.objects.create(call=call, author=user, text=text, created_at=now)
    MarginCall.objects.filter(pk=call.pk).update(remark=text, updated_at=now)
    audit.record(user, "add_remark", calls=[call.pk], detail={"text": text}, at=now)
    transaction.on_commit(lambda: live.publish([call.pk]))
    return remark


@transaction.atomic
def move_deadline(
    call: MarginCall,
    *,
    deadline: datetime,
    reason: str,
    user,
    now: datetime | None = None,
    shown: int | None = None,
):
    """Move an open call's deadline. ``shown``: the deadline (Unix seconds) the trader saw on the page;
    a deadline another trader has moved since is not moved again unseen."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise CallActionRefused(_("A reason is required to move a deadline."))
    locked = _locked_open([call.pk]).first()
    if locked is None:
        raise CallActionRefused(_("The call has closed; its deadline can no longer move."))
    if shown is not None and shown != int(locked.deadline.timestamp()):
        raise CallActionRefused(
            _("The deadline was moved to %(deadline)s since this page was drawn: reload the page and choose again.")
            % {"deadline": timezone.localtime(locked.deadline).strftime("%Y-%m-%d %H:%M")}
        )
    if deadline <= locked.triggered_at:
        raise CallActionRefused(_("The new deadline must be after the call's trigger time."))
    if deadline <= now:  # it would make the call overdue at once, its days of notice cut short
        raise CallActionRefused(
            _("The new deadline must be later than now (%(now)s).")
            % {"now": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")}
        )
    day = deadline.astimezone(HONG_KONG).date()
    close = session_close(day)
    if close is None and day.year > LAST_YEAR:
        raise CallActionRefused(_("HKEX sessions are known to %(year)d: choose an earlier day.") % {"year": LAST_YEAR})
    if close is None:
        following = next_session(day)
        raise CallActionRefused(
            _("%(day)s is not an HKEX trading day: choose one (the next is %(next)s).")
            % {"day": day.isoformat(), "next": following.isoformat() if following else "-"}
        )
    if deadline > close:
        raise CallActionRefused(
            _("A deadline is at or before its day's HKEX close: %(close)s.")
            % {"close": close.strftime("%Y-%m-%d %H:%M")}
        )
    if deadline == locked.deadline:
        raise CallActionRefused(
            _("The deadline is already %(deadline)s.")
            % {"deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")}
        )
    first_move = locked.deadline_changes.order_by("changed_at", "pk").values_list("old_deadline", flat=True).first()
    original = first_move or locked.deadline
    sessions = selectors.deadline_move_sessions(locked.kind)
    latest = sessions_after(original, sessions)
    if deadline > latest:
        raise CallActionRefused(
            _(
                "A deadline may move at most %(sessions)d trading sessions past the original "
                "(%(original)s): no later than %(latest)s."
            )
            % {
                "sessions": sessions,
                "original": timezone.localtime(original).strftime("%Y-%m-%d %H:%M"),
                "latest": timezone.localtime(latest).strftime("%Y-%m-%d %H:%M"),
            }
        )
    change = DeadlineChange.objects.create(
        call=locked, old_deadline=locked.deadline, new_deadline=deadline, reason=reason, changed_by=user, changed_at=now
    )
    # Auto-liquidation set at the deadline follows it: a trader who gives the client longer means it.
    # Not one that has come already: its orders may be placed, and its outcome is on the call.
    follows = locked.auto_liquidate_at is not None and locked.auto_liquidate_at == locked.deadline > now
    moved = {"auto_liquidate_at": deadline, "auto_liquidation_note": {}} if follows else {}
    MarginCall.objects.filter(pk=locked.pk).update(deadline=deadline, updated_at=now, **moved)
    detail = {"from": locked.deadline.isoformat(), "to": deadline.isoformat(), "reason": reason}
    if follows:
        detail["auto_liquidation"] = deadline.isoformat()
    audit.record(user, "move_deadline", calls=[locked.pk], detail=detail, at=now)
    transaction.on_commit(lambda: live.publish([locked.pk]))
    return change
