"""Reads of the book. Querysets where a caller may narrow further; plain data for the engine."""

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from . import formatting
from .calculations import ONE, InstrumentTerms
from .models import Account, AccountKind, AccountRisk, FxRate, Instrument, MarginCall, Position, RuleSet


def fx_rates_current() -> dict[str, Decimal]:
    return dict(FxRate.objects.values_list("currency", "rate"))


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


def deadline_move_sessions(kind: str) -> int:
    """How many sessions past its original deadline a call of this account kind may be moved to."""
    sessions = RuleSet.objects.filter(account_kind=kind).values_list("deadline_move_sessions", flat=True).first()
    return sessions or RuleSet._meta.get_field("deadline_move_sessions").default


def long_outstanding_days(kind: str) -> int:
    """After how many days an open call of this account kind is long outstanding."""
    days = RuleSet.objects.filter(account_kind=kind).values_list("long_outstanding_days", flat=True).first()
    return days or RuleSet._meta.get_field("long_outstanding_days").default


INSTRUMENT_TERM_FIELDS = (
    "price",
    "currency",
    "multiplier",
    "status",
    "im_rate",
    "mm_rate",
    "fm_rate",
    "short_im_rate",
    "short_mm_rate",
    "short_fm_rate",
)


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


def export_call(status, call_type, triggered_at, deadline, call_amount_at_trigger) -> dict:
    """An open call as exported: times in Hong Kong time, ISO 8601 with their offset."""
    return {
        "status": status,
        "type": call_type,
        "triggered_at": timezone.localtime(triggered_at).isoformat(),
        "deadline": timezone.localtime(deadline).isoformat(),
        "call_amount_at_trigger": formatting.money(call_amount_at_trigger, grouping=False),
    }


def risk_export_rows(accounts: QuerySet) -> Iterable[dict]:
    """Stored figures as plain JSON values: amounts as 2-decimal strings, the ratio with 4 or null;
    then the account's open call, or null."""
    open_calls = {
        account_id: export_call(*values)
        for account_id, *values in MarginCall.objects.filter(closed_at__isnull=True, account__in=accounts).values_list(
            "account_id", "status", "call_type", "triggered_at", "deadline", "call_amount_at_trigger"
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

    for call in rows:
        call.elapsed_hours = elapsed_hours(call.triggered_at, call.closed_at or now)
        call.overdue = call.closed_at is None and call.deadline < now
        call.long_outstanding = long_before is not None and call.closed_at is None and call.triggered_at < long_before
    return rows
