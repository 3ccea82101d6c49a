"""Reads of the book. Querysets where a caller may narrow further; plain data for the engine."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from book.models import Account, AccountKind, CashBalance, FxRate, Instrument, Position
from book.times import local_day_start
from book.trading_calendar import is_trading
from console.lists import Selection

from . import formatting
from .calculations import ONE, InstrumentTerms
from .models import CALL_KINDS, AccountRisk, CallStatus, MarginCall, RuleSet


def fx_rates_current() -> dict[str, Decimal]:
    return dict(FxRate.objects.values_list("currency", "rate"))


def cash_by_account(accounts: Q) -> dict[int, dict[str, Decimal]]:
    """The cash lines ({currency: amount}) of each account ``accounts`` picks (a filter on
    ``account_id``); an account with none reads as {}."""
    cash: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for account_id, currency, amount in CashBalance.objects.filter(accounts).values_list(
        "account_id", "currency", "amount"
    ):
        cash[account_id][currency] = amount
    return cash


def call_coefficients() -> dict[str, Decimal]:
    """Call coefficient per account kind; a kind without a rule set uses 1."""
    coefficients = {kind: ONE for kind in AccountKind.values}
    coefficients.update(RuleSet.objects.values_list("account_kind", "call_coefficient"))
    return coefficients


def deadline_sessions() -> dict[str, int]:
    """How many HKEX sessions a call of each account kind has; a kind without a rule set uses the default."""
    sessions = dict.fromkeys(AccountKind.values, RuleSet._meta.get_field("deadline_sessions").default)
    sessions.update(RuleSet.objects.values_list("account_kind", "deadline_sessions"))
    return sessions


def reopen_sessions() -> dict[str, int]:
    """Per account kind: for how many sessions after the market closed a call it is reopened if called
    again (0: never)."""
    sessions = dict.fromkeys(AccountKind.values, RuleSet._meta.get_field("reopen_sessions").default)
    sessions.update(RuleSet.objects.values_list("account_kind", "reopen_sessions"))
    return sessions


def deadline_move_sessions(kind: str) -> int:
    """How many sessions past its original deadline a call of this account kind may be moved to."""
    sessions = RuleSet.objects.filter(account_kind=kind).values_list("deadline_move_sessions", flat=True).first()
    return sessions or RuleSet._meta.get_field("deadline_move_sessions").default


def long_outstanding_days(kind: str) -> int:
    """After how many days an open call of this account kind is long outstanding."""
    return _or_default(
        RuleSet.objects.filter(account_kind=kind).values_list("long_outstanding_days", flat=True).first()
    )


def long_outstanding_days_by_kind() -> dict[str, int]:
    """:func:`long_outstanding_days` of every account kind that is called, in one query."""
    days = dict(RuleSet.objects.values_list("account_kind", "long_outstanding_days"))
    return {kind: _or_default(days.get(kind)) for kind in CALL_KINDS}


def _or_default(days: int | None) -> int:
    """A kind with no rule set (or none set) is long outstanding after the rule set's default."""
    return days or RuleSet._meta.get_field("long_outstanding_days").default


# In the order of calculations.InstrumentTerms.
INSTRUMENT_TERM_FIELDS = Instrument.TERM_FIELDS


def instrument_terms(instrument_ids: Iterable[int]) -> dict[int, InstrumentTerms]:
    rows = Instrument.objects.filter(pk__in=list(instrument_ids)).values_list("pk", *INSTRUMENT_TERM_FIELDS)
    return {row[0]: InstrumentTerms(*row[1:]) for row in rows}


def terms_of(instrument: Instrument) -> InstrumentTerms:
    return InstrumentTerms(*(getattr(instrument, name) for name in INSTRUMENT_TERM_FIELDS))


def accounts_holding(instrument_ids: Iterable[int]) -> QuerySet:
    """Ids of the accounts with a position in any of these instruments."""
    return Position.objects.filter(instrument_id__in=list(instrument_ids)).values_list("account_id", flat=True)


def account_with_book(account_no: str, *, accounts: QuerySet | None = None) -> Account:
    """One account with its figures, cash and positions (with instruments) in a fixed number of queries."""
    queryset = (accounts if accounts is not None else Account.objects.all()).select_related("desk", "risk")
    return queryset.prefetch_related("cash_balances", "positions__instrument").get(account_no=account_no)


# The export keys, in order, after account_no and kind.
EXPORT_FIGURES = AccountRisk.FIGURE_FIELDS


def export_call(status, call_type, triggered_at, deadline, call_amount_at_trigger, reopened_count) -> dict:
    """An open call as exported: times in Hong Kong time, ISO 8601 with their offset. A reopened call
    keeps its first trigger time and deadline, and says how many times it reopened."""
    return {
        "status": status,
        "type": call_type,
        "triggered_at": timezone.localtime(triggered_at).isoformat(),
        "deadline": timezone.localtime(deadline).isoformat(),
        "call_amount_at_trigger": formatting.money(call_amount_at_trigger, grouping=False),
        "reopened": reopened_count,
    }


def risk_export_rows(accounts: QuerySet) -> Iterable[dict]:
    """Stored figures as plain JSON values: amounts as 2-decimal strings, the ratio with 4 or null;
    then the account's open call, or null."""
    open_calls = {
        account_id: export_call(*values)
        for account_id, *values in MarginCall.objects.filter(closed_at__isnull=True, account__in=accounts).values_list(
            "account_id", "status", "call_type", "triggered_at", "deadline", "call_amount_at_trigger", "reopened_count"
        )
    }
    rows = (
        accounts.filter(risk__isnull=False)
        .order_by("account_no")
        .values_list("pk", "account_no", "kind", *[f"risk__{name}" for name in EXPORT_FIGURES])
    )
    for pk, account_no, kind, *values in rows.iterator(chunk_size=5000):
        figures = dict(zip(EXPORT_FIGURES, values, strict=True))
        row = {"account_no": account_no, "kind": kind}
        for name in EXPORT_FIGURES:
            value = figures[name]
            if name == "call_type":
                row[name] = value or None
            elif name == "nav_ratio":
                row[name] = None if value is None else formatting.ratio(value)
            else:
                row[name] = formatting.money(value, grouping=False)
        row["call"] = open_calls.get(pk)
        yield row


def with_row_values(rows, *, now, long_before=None) -> list:
    """The per-row values the call lists show, set on each call: elapsed hours (to its close, if closed),
    deadline passed and long outstanding (open calls)."""
    from .calls import elapsed_hours

    days = days_called({call.account_id for call in rows}, now=now)
    for call in rows:
        call.elapsed_hours = elapsed_hours(call.triggered_at, call.closed_at or now)
        call.overdue = call.closed_at is None and call.deadline < now
        call.long_outstanding = long_before is not None and call.closed_at is None and call.triggered_at < long_before
        call.days_called = days.get(call.account_id, 0)
    return rows


CALLED_DAYS_WINDOW = timedelta(days=30)


def days_called(account_ids, *, now: datetime) -> dict[int, int]:
    """Per account: on how many Hong Kong calendar days of the last 30 it had a call (from its trigger
    to its close, or now; a reopened call counts from its first trigger). One query."""
    since = now - CALLED_DAYS_WINDOW
    spans = (
        MarginCall.objects.filter(account_id__in=account_ids, triggered_at__lte=now)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=since))
        .values_list("account_id", "triggered_at", "closed_at")
    )
    dates: dict[int, set] = {}
    first_day = timezone.localtime(since).date()
    for account_id, triggered_at, closed_at in spans:
        start = max(timezone.localtime(triggered_at).date(), first_day)
        end = timezone.localtime(min(closed_at or now, now)).date()
        days = dates.setdefault(account_id, set())
        while start <= end:
            days.add(start)
            start += timedelta(days=1)
    today = timezone.localtime(now).date()
    return {account_id: len({day for day in days if (today - day).days < 30}) for account_id, days in dates.items()}


def _search(query: str) -> Q:
    """An account number's start or a part of the client's name. Asked of the accounts first (their
    trigram indexes on PostgreSQL find the few that match), so the calls are not all joined to theirs."""
    if not query:
        return Q()
    return Q(
        account_id__in=Account.objects.filter(Q(account_no__istartswith=query) | Q(name__icontains=query)).values("pk")
    )


def open_calls(user, kind: str, values: dict, now: datetime) -> Selection:
    """The Risk Warning (or Intraday) list: the user's open calls of one account kind on the chosen tab
    (active or exception) that pass the filters, with the tab counts and the filtered totals."""
    days = long_outstanding_days(kind)
    long_before = now - timedelta(days=days)
    tab = values.get("tab") or "active"
    shown = Q(status=CallStatus.EXCEPTION if tab == "exception" else CallStatus.OPEN)
    shown &= _search((values.get("q") or "").strip())
    if values.get("type"):
        shown &= Q(call_type=values["type"])
    if values.get("desk"):
        shown &= Q(desk__code=values["desk"])
    if values.get("overdue"):
        shown &= Q(deadline__lt=now)
    if values.get("long"):
        shown &= Q(triggered_at__lt=long_before)
    if values.get("ratio_min") is not None:
        shown &= Q(nav_ratio__gte=values["ratio_min"] / 100)
    if values.get("ratio_max") is not None:
        shown &= Q(nav_ratio__lte=values["ratio_max"] / 100)
    calls = MarginCall.objects.visible_to(user).filter(closed_at__isnull=True, kind=kind)
    totals = calls.aggregate(
        active=Count("pk", filter=Q(status=CallStatus.OPEN)),
        exception=Count("pk", filter=Q(status=CallStatus.EXCEPTION)),
    )
    # The filters once, in the query's WHERE (in each aggregate's FILTER, a search would run four times).
    totals |= calls.filter(shown).aggregate(
        count=Count("pk"),
        amount=Sum("call_amount"),
        long_count=Count("pk", filter=Q(triggered_at__lt=long_before)),
        long_total=Sum("call_amount", filter=Q(triggered_at__lt=long_before)),
    )
    return Selection(
        rows=calls.filter(shown).select_related("account", "account__desk"),
        count=totals["count"],
        extra={"tab": tab, "totals": totals, "long_days": days, "long_before": long_before},
    )


def calls_by_desk(user, now: datetime) -> list[dict]:
    """The overview's table: per desk the user sees, its active calls on each list (Risk Warning for
    margin accounts, Intraday for intraday ones), those marked exception (of both), and of all its
    open calls those past their deadline or long outstanding (by each kind's rule set), and their call
    amount. Three queries, however many desks."""
    from console.querysets import visible_desks

    long = Q()
    for kind, days in long_outstanding_days_by_kind().items():
        long |= Q(kind=kind, triggered_at__lt=now - timedelta(days=days))
    counts = {
        row.pop("desk_id"): row
        for row in MarginCall.objects.visible_to(user)
        .filter(closed_at__isnull=True)
        .values("desk_id")
        .annotate(
            # Active calls, as each list's first tab shows them (the links open it); exceptions apart.
            margin=Count("pk", filter=Q(kind=AccountKind.MARGIN, status=CallStatus.OPEN)),
            intraday=Count("pk", filter=Q(kind=AccountKind.INTRADAY, status=CallStatus.OPEN)),
            exception=Count("pk", filter=Q(status=CallStatus.EXCEPTION)),
            overdue=Count("pk", filter=Q(deadline__lt=now)),
            long=Count("pk", filter=long),
            amount=Sum("call_amount"),
        )
        .order_by()
    }
    empty = {"margin": 0, "intraday": 0, "exception": 0, "overdue": 0, "long": 0, "amount": None}
    rows = [{"desk": desk, **counts.pop(desk.pk, empty)} for desk in visible_desks(user).order_by("code")]
    if None in counts:  # calls of accounts on no desk (seen only with the permission to see every desk)
        rows.append({"desk": None, **counts.pop(None)})
    return rows


def desk_totals(rows: list[dict]) -> dict:
    """The sum of :func:`calls_by_desk`'s rows."""
    total = {name: sum(row[name] for row in rows) for name in ("margin", "intraday", "exception", "overdue", "long")}
    amounts = [row["amount"] for row in rows if row["amount"] is not None]
    return {**total, "amount": sum(amounts) if amounts else None}


HISTORY_FILTERS = (
    ("kind", "kind"),
    ("cause", "close_cause"),
    ("type", "trigger_type"),
    ("account", "account__account_no"),  # one account's calls (its page links here)
)


def closed_calls(user, values: dict) -> Selection:
    """The History list: the user's closed calls that pass the filters."""
    shown = _search((values.get("q") or "").strip())
    for name, lookup in HISTORY_FILTERS:
        if values.get(name):
            shown &= Q(**{lookup: values[name]})
    if values.get("closed_from"):
        shown &= Q(closed_at__gte=local_day_start(values["closed_from"]))
    if values.get("closed_to"):
        shown &= Q(closed_at__lt=local_day_start(values["closed_to"], days_after=1))
    return Selection(
        rows=MarginCall.objects.visible_to(user)
        .filter(shown, closed_at__isnull=False)
        .select_related("account", "account__desk")
    )


def freshness(now) -> dict:
    """How fresh the stored figures are: behind the market by the age of the oldest price whose
    recompute has not run; stale past FIGURES_STALE_SECONDS; and the prices their band holds. Every page
    that shows figures says it."""
    from book import pending

    lag = pending.lag()
    seconds = lag.seconds(now)
    found = {"waiting": lag.waiting, "seconds": round(seconds), "stale": seconds > settings.FIGURES_STALE_SECONDS}
    # Prices the feed sent that their price band holds: the figures do not follow them until confirmed.
    held = list(
        Instrument.objects.filter(held_price__isnull=False).order_by("symbol").values_list("symbol", flat=True)[:4]
    )
    if held:
        found["held"] = ", ".join(held[:3]) + (", …" if len(held) > 3 else "")
        found["held_count"] = len(held)  # up to 4: enough to choose the singular or the plural
    # Up to date with prices that have stopped coming: while HKEX trades, a feed quiet this long is said.
    if is_trading(now):
        last = Instrument.objects.aggregate(last=Max("price_time"))["last"]
        if last is None or (now - last).total_seconds() > settings.PRICE_FEED_QUIET_SECONDS:
            found["prices_quiet"] = True
            if last is not None:
                at = timezone.localtime(last)
                found["prices_since"] = (
                    f"{at:%H:%M}" if at.date() == timezone.localtime(now).date() else f"{at:%Y-%m-%d %H:%M}"
                )
    return found
