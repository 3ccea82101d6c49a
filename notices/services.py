"""Notices: the system's (a call opens, escalates, and every XHKG trading day until its deadline) and the
desk's (a message or voice message from the console); their deliveries, sent on the worker; and what
gateways report back (docs/notices.md)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from book.models import Account, AccountKind, Language
from book.times import as_stored
from book.trading_calendar import is_session
from console import audit
from console.permissions import can
from console.text import first_few, hidden_in_address
from risk import calls as call_locks
from risk import formatting, snapshots
from risk import services as risk_services
from risk.models import CallStatus, CallType, MarginCall, RuleSet, channels_of

from . import channels, defaults, sms
from .channels import not_a_phone
from .models import (
    CALL_NOTICE_KINDS,
    DESK_KEY,
    Channel,
    Delivery,
    DeliveryStatus,
    Notice,
    NoticeKind,
    NoticeTemplate,
)
from .placeholders import NOT_IN_DEBIT, PLACEHOLDERS, TemplateError, check, fill, named
from .signals import account_messages_settled, calls_with_orders

logger = logging.getLogger(__name__)

SEND_NOTICE = "notices.send_notice"
SNAPSHOT_KINDS = {Channel.EMAIL: "notice_email", Channel.SMS: "notice_sms", Channel.VOICE: "notice_voice"}
MAX_FREE_TEXT = 2000


class Refused(Exception):
    """A notice the user may not send, or one that cannot be written; says why."""


def trading_day(moment: dt.datetime) -> dt.date:
    """The XHKG trading day a moment counts for: its Hong Kong date when that is a session, else the
    next session's."""
    day = timezone.localtime(moment).date()
    for _step in range(30):
        if is_session(day):
            return day
        day += dt.timedelta(days=1)
    return timezone.localtime(moment).date()  # past the calendar's years: the date itself


def trading_day_begins(day: dt.date) -> dt.datetime:
    """The first moment :func:`trading_day` counts for this session day: midnight (Hong Kong) after the
    session before it (a trigger on the Saturday before counts for Monday)."""
    before = day - dt.timedelta(days=1)
    for _step in range(30):
        if is_session(before):
            break
        before -= dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(before + dt.timedelta(days=1), dt.time.min))


def rules_by_kind() -> dict[str, RuleSet]:
    rules = {rule.account_kind: rule for rule in RuleSet.objects.all()}
    return {kind: rules.get(kind) or RuleSet(account_kind=kind) for kind in AccountKind.values}


def channels_for(kind: str, rule: RuleSet) -> list[str]:
    setting = {
        NoticeKind.TRIGGER: rule.trigger_channels,
        NoticeKind.FORCE_CALL: rule.force_call_channels,
        NoticeKind.DAILY: rule.daily_channels,
    }.get(kind, rule.trigger_channels)
    return channels_of(setting)


# --- writing a notice ------------------------------------------------------------------------------


def values_for(call: MarginCall, language: str) -> dict[str, str]:
    """What the placeholders of a call's notice are filled with, in the client's language."""
    with translation.override(language):
        call_type = str(CallType(call.call_type).label) if call.call_type else ""
    return _account_values(
        call.account,
        language,
        {
            "call_amount": formatting.money(call.call_amount),
            "deadline": timezone.localtime(call.deadline).strftime("%Y-%m-%d %H:%M"),
            "type": call_type,
            "ratio": formatting.percent(call.nav_ratio) if call.nav_ratio is not None else "—",
            "triggered": timezone.localtime(call.triggered_at).strftime("%Y-%m-%d %H:%M"),
            "equity": formatting.money(call.equity),
        },
    )


def templates_for(kinds: Iterable[str]) -> dict[tuple[str, str, str], NoticeTemplate]:
    return {
        (template.kind, template.channel, template.language): template
        for template in NoticeTemplate.objects.filter(kind__in=list(kinds))
    }


def compose(call: MarginCall, kind: str, channel: str, templates: dict, text: str = "") -> tuple[str, str, str]:
    """(language, subject, body) of a call's notice on a channel: the free text if given, else the
    template of the client's language (English when it has none). Placeholders are filled as text; an
    email's HTML is escaped when it is sent."""
    language = call.account.language or Language.EN
    if text:
        language = text_language(text, language)
        values = values_for(call, language)
        with translation.override(language):
            subject = _("About your account %(account)s") % {"account": call.account.account_no}
        return language, subject, fill(text, values)
    language, subject, body = _template(templates, kind, channel, language)
    values = values_for(call, language)
    return language, fill(subject, values), fill(body, values)


# Han ideographs: the unified blocks and their extensions, and the compatibility ones. Punctuation
# (full-width "！", "、") is not Chinese by itself: an English text may carry one from a Chinese keyboard.
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def text_language(text: str, language: str) -> str:
    """The language of a desk's own text, for its subject and the broker's signature: the client's,
    but English for a text with no Chinese in it (a desk writing in English to a Chinese-reading
    client would otherwise sign it in Chinese under a Chinese subject)."""
    return language if HAN.search(text) else Language.EN


def _template(templates: dict, kind: str, channel: str, language: str) -> tuple[str, str, str]:
    """(language, subject, body) to write from: the admin's template in the client's language, else in
    English, else the text shipped with the console (a deleted template never stops a notice)."""
    for wanted in (language, Language.EN):
        template = templates.get((kind, channel, wanted))
        if template is not None:
            return wanted, template.subject, template.body
    for wanted in (language, Language.EN):
        shipped = defaults.TEXTS.get(wanted, {}).get(kind)
        if shipped is not None:
            subject, email, short = shipped
            return wanted, subject if channel == Channel.EMAIL else "", email if channel == Channel.EMAIL else short
    raise Refused(_("There is no %(kind)s template for %(channel)s.") % {"kind": kind, "channel": channel})


def recipient(account: Account, channel: str) -> str:
    return account.email if channel == Channel.EMAIL else account.phone


@dataclass
class Wanted:
    """A notice to write: its call, kind, key, trading day (system notices) and channels."""

    call: MarginCall
    kind: str
    key: str
    channels: Sequence[str]
    day: dt.date | None = None
    text: str = ""


def write(wanted: Sequence[Wanted], *, user=None, now: dt.datetime | None = None) -> list[Notice]:
    """Write these notices with their deliveries, a snapshot per delivery, and the calls' last notice;
    queue the deliveries once committed. A notice whose key (or trading day) its call already has is
    not written again: the database refuses it, so two jobs or a task run twice write one."""
    now = now or timezone.now()
    wanted = [item for item in wanted if item.channels]
    if not wanted:
        return []
    templates = templates_for({item.kind for item in wanted})
    with transaction.atomic():
        Notice.objects.bulk_create(
            [
                Notice(
                    call=item.call,
                    account_id=item.call.account_id,
                    kind=item.kind,
                    key=item.key,
                    day=item.day,
                    text=item.text,
                    created_at=now,
                    created_by=user if user is not None and user.is_authenticated else None,
                )
                for item in wanted
            ],
            ignore_conflicts=True,
        )
        by_key = {(item.call.pk, item.key): item for item in wanted}
        written = list(
            Notice.objects.filter(call_id__in=[item.call.pk for item in wanted], created_at=now)
            .filter(key__in={item.key for item in wanted}, deliveries__isnull=True)
            .select_for_update(of=("self",))
        )
        deliveries = []
        for notice in written:
            item = by_key.get((notice.call_id, notice.key))
            if item is None:
                continue
            for channel in item.channels:
                language, subject, body = compose(item.call, item.kind, channel, templates, item.text)
                deliveries.append(
                    Delivery(
                        notice=notice,
                        channel=channel,
                        recipient=recipient(item.call.account, channel),
                        language=language,
                        subject=subject[:300],
                        body=body,
                        queued_at=now,
                        updated_at=now,
                    )
                )
        Delivery.objects.bulk_create(deliveries, batch_size=1000, ignore_conflicts=True)
        for channel, kind in SNAPSHOT_KINDS.items():
            pairs = {(d.notice.call_id, d.notice.account_id) for d in deliveries if d.channel == channel}
            snapshots.take(pairs, kind=kind, key=f"notice:{channel}:{now.isoformat()}", at=now)
        called = [notice.call_id for notice in written]
        call_locks.lock(called)
        MarginCall.objects.filter(pk__in=called).update(
            last_notice_at=now, last_notice_status=DeliveryStatus.QUEUED, updated_at=now
        )
        queued = list(
            Delivery.objects.filter(notice__in=written, status=DeliveryStatus.QUEUED).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _queue(queued, called))
    return written


def _queue(delivery_ids: list[int], call_ids: list[int]) -> None:
    from risk import live

    from . import tasks

    live.publish(call_ids)
    for done, delivery_id in enumerate(delivery_ids):
        try:
            tasks.deliver.delay(delivery_id)
        except Exception as error:  # the broker is away: these are marked, and the next sweep sends them
            left = delivery_ids[done:]
            Delivery.objects.filter(pk__in=left, status=DeliveryStatus.QUEUED).update(error=NOT_QUEUED)
            logger.warning("%d deliveries not queued now (%s): the sweep sends them", len(left), error)
            return


# A queued delivery whose task could not be queued: the sweep sends it at its next run, not an hour later.
NOT_QUEUED = "not queued yet: the task queue could not be reached"


# --- the system's notices --------------------------------------------------------------------------


def system_notices(kind: str, call_ids: Iterable[int], *, now: dt.datetime | None = None) -> list[Notice]:
    """The notice of calls that opened or reopened (``trigger``) or escalated (``force_call``). A
    trigger notice counts as the daily notice of its trigger time's trading day, and goes once per
    call: a reopened call gets it only if its client was never told (the call closed before its
    notice was written, or before its deliveries left: those leave now). A force-call notice goes at
    most once per call and trading day (one held back by a close that day goes when the call
    escalates again). As every system notice, none goes to a call past its deadline or marked
    exception."""
    now = now or timezone.now()
    calls = [
        call
        for call in MarginCall.objects.filter(pk__in=list(call_ids), closed_at__isnull=True).select_related(
            "account", "account__desk"
        )
        if call.deadline > now and call.status != CallStatus.EXCEPTION
    ]
    if calls:
        _send_held_again([call.pk for call in calls], now)
    rules = rules_by_kind()
    wanted = []
    for call in calls:
        channels_of_kind = channels_for(kind, rules[call.kind])
        if kind == NoticeKind.TRIGGER:
            wanted.append(
                Wanted(call, worded(call, kind), "trigger", channels_of_kind, day=trading_day(call.triggered_at))
            )
        else:  # at most one a trading day: a call that eases and escalates again is not told each time
            wanted.append(Wanted(call, kind, f"force_call:{trading_day(now)}", channels_of_kind))
    return write(wanted, now=now)


def worded(call: MarginCall, kind: str) -> str:
    """The kind of text a call's trigger or daily notice is written from: the debit one for a debit
    call (a debt with no position: it has no ratio and no position to reduce; a deposit meets it)."""
    return NoticeKind.DEBIT if call.call_type == CallType.DEBIT else kind


def _send_held_again(call_ids: list[int], now: dt.datetime) -> None:
    """System notices that did not leave because their call closed first (its trigger notice, a
    force-call or daily one): the call is open again, so they go now, written again from the call as it
    is (its amount, deadline and type may have changed while it was closed), to the client's address
    now, with a snapshot of what they tell. A trigger or daily notice of a call that reopened as a debit
    call is written from the debit text, and the other way round, unless one of its deliveries already
    went. What would no longer tell the truth stays held (:func:`_still_held`). As every system notice,
    none goes to a call past its deadline or marked exception. A call whose newest notice is among them
    shows it queued again."""
    held = list(
        Delivery.objects.filter(
            notice__call_id__in=call_ids,
            notice__call__closed_at__isnull=True,
            notice__call__deadline__gt=now,
            status=DeliveryStatus.FAILED,
            error=NOT_SENT["closed"],
        )
        .exclude(notice__call__status=CallStatus.EXCEPTION)
        .select_related("notice__call__account__desk")
    )
    if not held:
        return
    # Notices one of whose deliveries went before the call closed: their kind stays.
    partly = set(
        Delivery.objects.filter(notice_id__in={d.notice_id for d in held})
        .filter(Q(sent_at__isnull=False) | Q(status__in=LEFT))
        .values_list("notice_id", flat=True)
    )
    kinds = {d.notice_id: _reworded(d.notice) for d in held}
    held = [d for d in held if not _still_held(d.notice, kinds[d.notice_id], d.notice_id in partly, now)]
    if not held:
        return
    templates = templates_for(set(kinds.values()))
    notices = {delivery.notice_id for delivery in held}
    called = sorted({delivery.notice.call_id for delivery in held})
    with transaction.atomic():
        ids = []
        for delivery in held:
            call = delivery.notice.call
            language, subject, body = compose(
                call, kinds[delivery.notice_id], delivery.channel, templates, delivery.notice.text
            )
            if Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
                status=DeliveryStatus.QUEUED,
                error="",
                updated_at=now,
                recipient=recipient(call.account, delivery.channel),
                language=language,
                subject=subject[:300],
                body=body,
            ):
                ids.append(delivery.pk)
        for notice in {d.notice_id: d.notice for d in held if d.pk in ids}.values():
            if kinds[notice.pk] != notice.kind:
                Notice.objects.filter(pk=notice.pk).update(kind=kinds[notice.pk])
        for channel, kind in SNAPSHOT_KINDS.items():
            pairs = {(d.notice.call_id, d.notice.account_id) for d in held if d.channel == channel and d.pk in ids}
            snapshots.take(pairs, kind=kind, key=f"notice:{channel}:{now.isoformat()}", at=now)
        newest = {}
        for call_id, notice_id in (
            Notice.objects.filter(call_id__in=called)
            .order_by("call_id", "-created_at", "-pk")
            .values_list("call_id", "pk")
        ):
            newest.setdefault(call_id, notice_id)
        shown = [call_id for call_id in called if newest.get(call_id) in notices]
        call_locks.lock(shown)
        MarginCall.objects.filter(pk__in=shown).update(
            last_notice_at=now, last_notice_status=DeliveryStatus.QUEUED, updated_at=now
        )
        transaction.on_commit(lambda: _queue(ids, called))


def _still_held(notice: Notice, kind: str, partly_sent: bool, now: dt.datetime) -> bool:
    """A held notice that stays held when its call reopens: one whose call no longer is what it tells
    (a force call eased; a notice whose text would change kind after one of its deliveries went), or
    the daily reminder of an earlier trading day (today's is written by the daily job)."""
    if notice.from_desk:  # a desk's message is never held; were it, it would go as the desk wrote it
        return False
    if kind != notice.kind and partly_sent:
        return True
    if notice.key.startswith("daily:") and notice.day is not None and notice.day < trading_day(now):
        return True
    return bool(retyped(kind, notice.call))


def _reworded(notice: Notice) -> str:
    """The kind a held opening or daily notice is written from for its call now (``worded``): the
    debit text for a debit call, else the opening or daily text its key stands for."""
    if notice.from_desk or notice.kind not in (NoticeKind.TRIGGER, NoticeKind.DAILY, NoticeKind.DEBIT):
        return notice.kind
    if notice.key == "trigger":
        return worded(notice.call, NoticeKind.TRIGGER)
    if notice.key.startswith("daily:"):
        return worded(notice.call, NoticeKind.DAILY)
    return notice.kind


def retyped(kind: str, call: MarginCall) -> bool:
    """A notice of this kind does not tell the truth of its call (a system one that was written before
    the call's type changed; a desk's choice of template, :func:`misfit`): a force-call notice of a call
    that is no longer a force call, a trigger or daily text to a debit call, a debit text to one that
    is not."""
    if kind == NoticeKind.FORCE_CALL:
        return call.call_type != CallType.FORCE_CALL
    if kind in (NoticeKind.TRIGGER, NoticeKind.DAILY):
        return call.call_type == CallType.DEBIT
    if kind == NoticeKind.DEBIT:
        return call.call_type != CallType.DEBIT
    return False


# How long the daily job leaves a call opened that day to its trigger notice (written on the worker a
# moment after the call opens), before it tells the client itself.
TRIGGER_NOTICE_WAIT = dt.timedelta(minutes=10)


def daily_notices(now: dt.datetime | None = None) -> list[Notice]:
    """Each XHKG trading day, from the rule set's notice time: a notice to every open call that is not
    an exception, not past its deadline, opened by ``now``, and has none for the day yet (its trigger
    notice counts, and a call that opened that day is left to its trigger notice while that is still
    to come). ``now`` in the past replays that day's job: the notices are written at the clock's time,
    and none goes to a call whose deadline has passed by then."""
    clock = timezone.now()
    now = now or clock
    written_at = max(now, clock)
    local = timezone.localtime(now)
    if not is_session(local.date()):
        return []
    day = local.date()
    begins = trading_day_begins(day)
    written = []
    due = {kind: rule for kind, rule in rules_by_kind().items() if local.time() >= rule.notice_time}
    if due:
        # Each notice's snapshot keeps the prices with the figures: prices still waiting for their pass
        # are followed first (a pass that fails is alerted on and retried by the sweep).
        with suppress(Exception):
            risk_services.follow_pending()
    for kind, rule in due.items():
        calls = MarginCall.objects.filter(
            # A call opened after ``now`` (a job run for a past time) was not there to be told.
            kind=kind,
            status=CallStatus.OPEN,
            closed_at__isnull=True,
            deadline__gt=written_at,
            triggered_at__lte=now,
        ).exclude(notices__day=day)
        if channels_for(NoticeKind.TRIGGER, rule):
            # Opened that day, and its trigger notice still to come (its task a moment behind): left to it.
            # One that has not come within TRIGGER_NOTICE_WAIT (a lost task) gets this one instead.
            calls = calls.exclude(triggered_at__gte=max(begins, now - TRIGGER_NOTICE_WAIT))
        calls = list(calls.select_related("account", "account__desk"))
        channels_of_kind = channels_for(NoticeKind.DAILY, rule)
        for start in range(0, len(calls), 1000):
            chunk = calls[start : start + 1000]
            written += write(
                [
                    Wanted(call, worded(call, NoticeKind.DAILY), f"daily:{day}", channels_of_kind, day=day)
                    for call in chunk
                ],
                now=written_at,
            )
    return written


# --- the desk's notices ----------------------------------------------------------------------------


def misfit(calls: Sequence[MarginCall], kind: str, text: str = "") -> str:
    """Why this template does not tell the truth to some of these calls' clients ("" when it does): the
    force-call template says the account is at the forced-liquidation level, the liquidation one that
    orders were placed. A desk's own text is the desk's to word, but may not name the ratio a debit call
    does not have."""
    if text.strip():
        wrong = []
        if NOT_IN_DEBIT & named(text):
            wrong = sorted(call.account.account_no for call in calls if call.call_type == CallType.DEBIT)
        if not wrong:
            return ""
        return _(
            "{ratio} would read “—” to these debit calls' clients: a debit call has no net asset ratio. Take it "
            "out of the text, or leave these calls out: %(accounts)s."
        ) % {"accounts": first_few(wrong)}
    if kind in (NoticeKind.FORCE_CALL, NoticeKind.DEBIT, NoticeKind.TRIGGER, NoticeKind.DAILY):
        wrong = sorted(call.account.account_no for call in calls if retyped(kind, call))
        if kind == NoticeKind.FORCE_CALL:
            why = _("The force-call template is for force calls only, and these are not: %(accounts)s.")
        elif kind == NoticeKind.DEBIT:
            why = _(
                "The debit template is for debit calls only (a debt with no position), and these are not: %(accounts)s."
            )
        else:
            why = _(
                "This template tells of a net asset ratio and of positions to reduce, and these debit calls have "
                "no position: %(accounts)s. The debit template is written for them."
            )
    elif kind == NoticeKind.LIQUIDATION:
        placed = answered(calls_with_orders, call_ids=[call.pk for call in calls])
        wrong = sorted(call.account.account_no for call in calls if call.pk not in placed)
        why = _("The liquidation template tells of orders placed, and none was placed for these calls: %(accounts)s.")
    else:
        return ""
    if not wrong:
        return ""
    return (why % {"accounts": first_few(wrong)}) + " " + _("Choose another template, or write your own text.")


def send(
    *,
    user,
    calls: Sequence[MarginCall],
    channels: Sequence[str],
    kind: str = NoticeKind.MANUAL,
    text: str = "",
    key: str,
) -> list[Notice]:
    """A message (or voice message) from the desk to these calls' clients: a template of ``kind`` or a
    free text with placeholders. A form sent twice carries the same key and writes once. Audited."""
    if not can(user, SEND_NOTICE):
        raise Refused(_("You may not send notices."))
    if kind not in CALL_NOTICE_KINDS:
        raise Refused(_("The template %(kind)s is not for a notice about a call.") % {"kind": kind})
    text = text.strip()
    if text:
        if len(text) > MAX_FREE_TEXT:
            raise Refused(_("The text is longer than %(n)d characters.") % {"n": MAX_FREE_TEXT})
        try:
            check(text, kind)
        except TemplateError as error:
            raise Refused(str(error)) from None
    if not channels:
        raise Refused(_("Choose at least one channel."))
    if wrong := misfit(calls, kind, text):
        raise Refused(wrong)
    now = timezone.now()
    written = write([Wanted(call, kind, f"{DESK_KEY}{key}", channels, text=text) for call in calls], user=user, now=now)
    audit.record(
        user,
        "send_notice",
        calls=[call.pk for call in calls],
        detail={"kind": kind, "channels": list(channels), "text": text[:500], "notices": [n.pk for n in written]},
        # The same form sent again (its key): it wrote its notices the first time, and nothing now.
        outcome="ok" if written or not calls else "already sent",
        at=now,
    )
    return written


def preview(calls: Sequence[MarginCall], *, kind: str, channels: Sequence[str], text: str = "") -> list[dict]:
    """What each client would receive, in their language (nothing is written)."""
    templates = templates_for([kind])
    rows = []
    for call in calls:
        for channel in channels:
            try:
                language, subject, body = compose(call, kind, channel, templates, text)
                to = recipient(call.account, channel)
                problem = "" if to else _("no address")
                if to and channel != Channel.EMAIL and not_a_phone(to):
                    problem = _("not a phone number")
                elif to and channel == Channel.EMAIL and hidden_in_address(to):
                    problem = _("not an address mail can go to")
            except Refused as refusal:
                language, subject, body, problem = "", "", "", str(refusal)
            rows.append(
                {
                    "call": call,
                    "channel": channel,
                    "channel_name": Channel(channel).label if channel in Channel.values else channel,
                    "language": language,
                    "client_language": call.account.language or Language.EN,
                    "subject": subject,
                    "body": body,
                    "to": recipient(call.account, channel),
                    "problem": problem,
                    "sms_size": sms.describe(body) if channel == Channel.SMS and body else "",
                }
            )
    return rows


# --- delivering ------------------------------------------------------------------------------------


def deliver(delivery_id: int) -> str:
    """Send a queued delivery once: it is claimed first (queued -> sending), so a task delivered twice
    sends nothing the second time. Returns its new status, or "" when it was not queued. A
    :class:`channels.Retry` puts it back in the queue and is raised for the task to retry."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return ""
    delivery = Delivery.objects.select_related("notice", "notice__account", "notice__call").get(pk=delivery_id)
    # Queued a while (a retry, the sweep, a busy queue): a system notice leaves only if it still may.
    why = why_not_now(delivery.notice, now, leaving=True)
    if why:
        _set(delivery, DeliveryStatus.FAILED, SENDING, error=NOT_SENT[why])
        if why == "closed" and MarginCall.objects.filter(pk=delivery.notice.call_id, closed_at__isnull=True).exists():
            _send_held_again([delivery.notice.call_id], now)  # it reopened meanwhile: it goes after all
        return DeliveryStatus.FAILED
    try:
        channels.send(delivery)
    except channels.Retry as error:
        _set(delivery, DeliveryStatus.QUEUED, SENDING, error=str(error))
        raise
    except channels.Refused as error:
        _set(delivery, DeliveryStatus.FAILED, SENDING, error=str(error))
        return DeliveryStatus.FAILED
    except Exception as error:  # a bug or a surprise: failed and logged, never silently lost
        logger.exception("delivery %s", delivery_id)
        _set(delivery, DeliveryStatus.FAILED, SENDING, error=f"{type(error).__name__}: {error}")
        return DeliveryStatus.FAILED
    sent_at = timezone.now()
    if _set(delivery, DeliveryStatus.SENT, SENDING, sent_at=sent_at):
        return DeliveryStatus.SENT
    # The gateway reported it delivered (or failed) before the send returned: that stays; when it was
    # sent is still kept, never after it was delivered.
    status, delivered_at = Delivery.objects.filter(pk=delivery_id).values_list("status", "delivered_at").get()
    sent_at = min(sent_at, delivered_at) if delivered_at else sent_at
    Delivery.objects.filter(pk=delivery_id, sent_at__isnull=True).update(sent_at=sent_at)
    return status


def retry_later(delivery_id: int, error: str) -> None:
    """A delivery that could not go yet, with no broker to hold its retry (the embedded default): it
    stays queued for :func:`retries_due`, unless its tries are spent."""
    attempts = Delivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 0
    if attempts > settings.NOTICE_MAX_RETRIES:
        give_up(delivery_id, error)


def retries_due(now, limit: int = 5000) -> list[int]:
    """Queued deliveries tried before whose wait is over (NOTICE_RETRY_SECONDS after the first try,
    then twice that after each next one), the longest waiting first, at most ``limit``."""
    due = Q(pk__in=[])
    last = settings.NOTICE_MAX_RETRIES + 1  # its retry_later() gives up at once
    for attempts in range(1, last + 1):
        # at most ten years: a wait no setting that starts (notices.E001) comes near, and a time that exists
        wait = dt.timedelta(seconds=min(settings.NOTICE_RETRY_SECONDS * 2 ** (attempts - 1), 10 * 365 * 86_400))
        tried = Q(attempts__gte=attempts) if attempts == last else Q(attempts=attempts)
        due |= tried & Q(updated_at__lte=now - wait)
    return list(
        Delivery.objects.filter(due, status=DeliveryStatus.QUEUED)
        .exclude(error=NOT_QUEUED)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def give_up(delivery_id: int, error: str) -> None:
    """The retries are spent: a queued delivery fails with its last error."""
    delivery = Delivery.objects.select_related("notice").filter(pk=delivery_id, status=DeliveryStatus.QUEUED).first()
    if delivery is not None:
        _set(
            delivery,
            DeliveryStatus.FAILED,
            (DeliveryStatus.QUEUED,),
            error=f"{error} (gave up after {delivery.attempts} attempts)",
        )


SENDING = (DeliveryStatus.SENDING,)
# A call's last notice when one channel failed and another went (MarginCall.last_notice_status).
PARTLY_FAILED = "partly_failed"
REPORTABLE = (DeliveryStatus.SENDING, DeliveryStatus.SENT)  # what a gateway's report may change


def _set(
    delivery: Delivery, status: str, from_statuses: Sequence[str], *, error: str = "", sent_at=None, delivered_at=None
) -> bool:
    """Move a delivery to ``status`` if it is still in one of ``from_statuses``, in one statement: of
    two changes at once (a gateway's two reports, a report and the send's own end), one is taken.
    Returns whether this one was."""
    now = timezone.now()
    fields = {"status": status, "error": error[:2000], "updated_at": now}
    if sent_at:
        fields["sent_at"] = sent_at
    if delivered_at:
        fields["delivered_at"] = delivered_at
    if not Delivery.objects.filter(pk=delivery.pk, status__in=from_statuses).update(**fields):
        return False
    logger.info("delivery %s %s %s%s", delivery.pk, delivery.channel, status, f": {error}" if error else "")
    notice = delivery.notice
    if notice.call_id is None:
        return True
    # The call's last notice shows the newest notice's worst delivery.
    latest = Notice.objects.filter(call_id=notice.call_id).order_by("-created_at", "-pk").first()
    if latest is not None and latest.pk == notice.pk:
        statuses = set(Delivery.objects.filter(notice=notice).values_list("status", flat=True))
        shown = next(
            (s for s in (DeliveryStatus.FAILED, DeliveryStatus.QUEUED, DeliveryStatus.SENDING) if s in statuses),
            DeliveryStatus.DELIVERED if statuses == {DeliveryStatus.DELIVERED} else DeliveryStatus.SENT,
        )
        if shown == DeliveryStatus.FAILED and statuses & {DeliveryStatus.SENT, DeliveryStatus.DELIVERED}:
            shown = PARTLY_FAILED  # the client was told on another channel: not the same as told on none
        MarginCall.objects.filter(pk=notice.call_id).update(last_notice_status=shown, updated_at=now)
        transaction.on_commit(lambda: _published(notice.call_id))
    return True


def _published(call_id: int) -> None:
    from risk import live

    live.publish([call_id])


# The system's notices about a call: none goes to a call past its deadline or marked exception, and
# none is sent again to one either.
SYSTEM_KINDS = (NoticeKind.TRIGGER, NoticeKind.FORCE_CALL, NoticeKind.DAILY, NoticeKind.DEBIT)
# Why a delivery did not leave, on the delivery (by why_not_now()'s answer).
# A delivery that left for its client (or is leaving): what it told cannot be taken back.
LEFT = (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
NOT_SENT = {
    "closed": "not sent: its call closed before it went",
    "past_deadline": "not sent: its call's deadline passed before it went",
    "exception": "not sent: its call was marked exception before it went",
    "retyped": "not sent: its call's type changed before it went",
}


def why_not_now(notice: Notice, now: dt.datetime, *, leaving: bool = False) -> str:
    """Why this notice may not go to its client now ("" when it may). The system's notices go only to an
    open call, before its deadline, not marked exception, while they tell what the call is
    (:func:`retyped`). A desk's own message (from any template) is
    the desk's: once sent it leaves whatever became of the call meanwhile (``leaving``: a delivery on
    its way), and it may be sent again while its call is open, or after it closed if it tells of a
    liquidation (the fills that closed the call are what it tells)."""
    call = notice.call
    if call is None:  # about an account (stock recovery)
        return ""
    system = notice.kind in SYSTEM_KINDS and not notice.from_desk
    if not system:
        if leaving or call.is_open or notice.kind == NoticeKind.LIQUIDATION:
            return ""
        return "closed"
    if not call.is_open:
        return "closed"
    if call.deadline <= now:
        return "past_deadline"
    if call.status == CallStatus.EXCEPTION:
        return "exception"
    if retyped(notice.kind, call):
        return "retyped"
    return ""


def why_not_again(delivery: Delivery, now: dt.datetime) -> str:
    """Why a delivery may not be sent again now ("" when it may): it has not failed, or its notice may
    not go now (:func:`why_not_now`)."""
    if delivery.status != DeliveryStatus.FAILED:
        return "not_failed"
    return why_not_now(delivery.notice, now)


def settled_account_messages(notices: Sequence[Notice]) -> set[int]:
    """The ids of these messages about an account whose matter the apps above say is settled
    (:data:`notices.signals.account_messages_settled`)."""
    about_accounts = [notice for notice in notices if notice.call_id is None]
    return answered(account_messages_settled, notices=about_accounts) if about_accounts else set()


def answered(signal, **asked) -> set[int]:
    """The ids every receiver of one of this app's questions (:mod:`notices.signals`) answers with."""
    ids: set[int] = set()
    for _receiver, answer in signal.send(sender=Notice, **asked):
        ids |= set(answer or ())
    return ids


def resend(*, user, deliveries: Sequence[Delivery]) -> dict[str, list[int]]:
    """Queue failed deliveries again (the same text, to the client's current address). Returns the
    deliveries by outcome: ``queued``, or why not (``not_failed``, ``closed``, ``past_deadline``,
    ``exception``, ``retyped``; see :func:`why_not_again`; ``settled``: a message about stock that is no longer to
    recover). Audited."""
    if not can(user, SEND_NOTICE):
        raise Refused(_("You may not send notices."))
    now = timezone.now()
    outcomes: dict[str, list[int]] = {"queued": []}
    failed = []
    settled = settled_account_messages(
        list({d.notice_id: d.notice for d in deliveries if d.status == DeliveryStatus.FAILED}.values())
    )
    for delivery in deliveries:
        why = why_not_again(delivery, now) or ("settled" if delivery.notice_id in settled else "")
        outcomes.setdefault(why or "queued", []).append(delivery.pk)
        if not why:
            failed.append(delivery)
    for delivery in failed:
        account = delivery.notice.account
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.QUEUED,
            error="",
            recipient=account.email if delivery.channel == Channel.EMAIL else account.phone,
            attempts=0,  # sent again: its tries start afresh, with or without a worker
            queued_at=now,
            updated_at=now,
        )
    audit.record(
        user,
        "send_notice",
        calls=sorted({d.notice.call_id for d in failed if d.notice.call_id}),
        detail={"resent": [d.pk for d in failed], **{why: ids for why, ids in outcomes.items() if why != "queued"}},
        outcome="ok" if len(failed) == len(deliveries) else "partly refused",
        at=now,
    )
    ids = [d.pk for d in failed]
    transaction.on_commit(lambda: _queue(ids, []))
    return outcomes


# --- what gateways report back ---------------------------------------------------------------------


def report(delivery_id: int, status: str, *, error: str = "", at: dt.datetime) -> str:
    """A gateway says a delivery was delivered or failed. Returns "" when taken, else why not."""
    delivery = Delivery.objects.select_related("notice").filter(pk=delivery_id).first()
    if delivery is None:
        return "unknown delivery"
    if delivery.channel == Channel.EMAIL:
        return "an email's status is not reported here"
    if delivery.status not in REPORTABLE:
        return f"the delivery is {delivery.status}"
    # Sent no earlier than it was queued; a gateway's clock may be behind this one by as much as a feed's
    # may be ahead of it (FEED_MAX_AHEAD_SECONDS), no more.
    since = delivery.sent_at or delivery.queued_at
    if at < since - dt.timedelta(seconds=settings.FEED_MAX_AHEAD_SECONDS):
        sent = "sent" if delivery.sent_at else "queued"
        return f"time is before the delivery was {sent} ({timezone.localtime(since).isoformat(timespec='seconds')})"
    if status == DeliveryStatus.DELIVERED:
        taken = _set(delivery, DeliveryStatus.DELIVERED, REPORTABLE, delivered_at=as_stored(max(at, since)))
    else:
        taken = _set(delivery, DeliveryStatus.FAILED, REPORTABLE, error=error or "the gateway reported a failure")
    if not taken:  # another report (or the send's end) changed it meanwhile
        now_status = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return f"the delivery is {now_status}"
    return ""


# --- messages about an account, not a call (stock recovery) ----------------------------------------


@dataclass
class AccountMessage:
    """A message to an account's client, with the values of its own placeholders (``stock``, ...), and
    its kind when it is not the one of the messages sent with it (a covered-call case's among short
    stock's)."""

    account: Account
    values: dict
    kind: str = ""


def _account_values(account: Account, language: str, extra: dict) -> dict[str, str]:
    """Every placeholder: the account's own, then ``extra`` (a call's figures, a stock to recover);
    the rest empty. The broker signs in the language of the text."""
    values = dict.fromkeys(PLACEHOLDERS, "")
    values.update(
        {
            "account": account.account_no,
            "name": account.name or account.account_no,
            "desk": account.desk.name if account.desk else "",
            "broker": settings.NOTICE_BROKER_NAMES.get(language, settings.NOTICE_BROKER_NAME),
        }
    )
    values.update({key: str(value) for key, value in extra.items()})
    return values


def compose_for_account(message: AccountMessage, kind: str, channel: str, templates: dict, text: str = ""):
    account = message.account
    language = account.language or Language.EN
    if text:
        language = text_language(text, language)
        with translation.override(language):
            subject = _("About your account %(account)s") % {"account": account.account_no}
        return language, subject, fill(text, _account_values(account, language, message.values))
    language, subject, body = _template(templates, kind, channel, language)
    values = _account_values(account, language, message.values)
    return language, fill(subject, values), fill(body, values)


def send_to_accounts(
    *, user, messages: Sequence[AccountMessage], channels: Sequence[str], kind: str, text: str = "", key: str
) -> list[Notice]:
    """A message about accounts rather than calls (stock recovery): one notice per account, of its
    message's kind (``kind`` unless it names its own), written once per key, delivered like any notice,
    audited."""
    if not can(user, SEND_NOTICE):
        raise Refused(_("You may not send notices."))
    by_account = {message.account.pk: message for message in messages}
    kinds = {message.account.pk: message.kind or kind for message in by_account.values()}
    text = text.strip()
    if text:
        try:
            for each in set(kinds.values()) or {kind}:
                check(text, each)
        except TemplateError as error:
            raise Refused(str(error)) from None
    if not channels:
        raise Refused(_("Choose at least one channel."))
    now = timezone.now()
    sent_kinds = sorted(set(kinds.values())) or [kind]
    templates = templates_for(sent_kinds)
    with transaction.atomic():
        Notice.objects.bulk_create(
            [
                Notice(
                    account=message.account,
                    kind=kinds[message.account.pk],
                    key=f"account:{key}",
                    text=text,
                    stock=str(message.values.get("stock", ""))[:32],
                    created_at=now,
                    created_by=user,
                )
                for message in by_account.values()
            ],
            ignore_conflicts=True,
        )
        written = list(
            Notice.objects.filter(
                call__isnull=True, account_id__in=list(by_account), key=f"account:{key}", created_at=now
            )
        )
        deliveries = []
        for notice in written:
            message = by_account[notice.account_id]
            for channel in channels:
                language, subject, body = compose_for_account(message, notice.kind, channel, templates, text)
                deliveries.append(
                    Delivery(
                        notice=notice,
                        channel=channel,
                        recipient=recipient(message.account, channel),
                        language=language,
                        subject=subject[:300],
                        body=body,
                        queued_at=now,
                        updated_at=now,
                    )
                )
        Delivery.objects.bulk_create(deliveries, batch_size=1000, ignore_conflicts=True)
        queued = list(
            Delivery.objects.filter(notice__in=written, status=DeliveryStatus.QUEUED).values_list("pk", flat=True)
        )
        audit.record(
            user,
            "send_notice",
            detail={
                "kind": sent_kinds[0] if len(sent_kinds) == 1 else sent_kinds,
                "channels": list(channels),
                "accounts": [message.account.account_no for message in by_account.values()],
                "text": text[:500],
                "notices": [notice.pk for notice in written],
            },
            at=now,
        )
        transaction.on_commit(lambda: _queue(queued, []))
    return written
