"""The set-based engine (risk/sql_engine.py) against the pure one: over random books, what it stores is
exactly what risk.calculations computes and rounds, and it refuses exactly the accounts the pure engine
cannot compute or store."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from book.models import Account, AccountKind, CashBalance, Desk, FxRate, Instrument, OptionType, Position
from risk import calculations, sql_engine
from risk.calculations import AccountTerms, InstrumentTerms
from risk.models import AccountRisk, RuleSet
from risk.services import _too_large_to_store, recompute_accounts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# XAU's rate takes the largest books past what a figure's column holds: those accounts are refused.
RATES = {"USD": Decimal("7.8"), "CNY": Decimal("1.0735"), "JPY": Decimal("0.05123456"), "XAU": Decimal("19876.54321")}
CURRENCIES = ["HKD", "USD", "CNY", "JPY", "XAU", "EUR"]  # EUR has no rate: its holders are refused

rate = st.decimals(min_value=0, max_value=1, places=6)
instrument = st.fixed_dictionaries(
    {
        "price": st.decimals(min_value=0, max_value=Decimal("9999999"), places=6),
        "currency": st.sampled_from(CURRENCIES),
        "multiplier": st.sampled_from([1, 100, 1000]),  # options and warrants carry a multiplier
        "status": st.sampled_from(["normal", "suspended", "long_suspended", "delisted"]),
        "im_rate": rate,
        "mm_rate": rate,
        "fm_rate": rate,
        "short_im_rate": st.none() | rate,
        "short_mm_rate": st.none() | rate,
        "short_fm_rate": st.none() | rate,
        "option": st.booleans(),
    }
)
amount = st.decimals(min_value=Decimal("-1e19"), max_value=Decimal("1e19"), places=4)
terms = st.decimals(min_value=0, max_value=Decimal("1e9"), places=4)
account = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(list(AccountKind.values)),
        "credit_limit": terms,
        "accrued_interest": terms,
        "debt_margin": terms,
        "trading_limit": terms,
        "cash": st.dictionaries(st.sampled_from(CURRENCIES), amount, max_size=3),
        # (instrument index, quantity): shorts, zero quantities, big holdings
        "positions": st.dictionaries(
            st.integers(min_value=0, max_value=7), st.integers(min_value=-(10**9), max_value=10**9), max_size=5
        ),
    }
)
books = st.fixed_dictionaries(
    {
        "instruments": st.lists(instrument, min_size=8, max_size=8),
        "accounts": st.lists(account, min_size=1, max_size=12),
        "coefficients": st.fixed_dictionaries(
            {kind: st.decimals(min_value=0, max_value=3, places=2) for kind in AccountKind.values}
        ),
    }
)


def _write(book) -> list[Account]:
    FxRate.objects.all().delete()
    FxRate.objects.bulk_create([FxRate(currency=currency, rate=value) for currency, value in RATES.items()])
    for kind, coefficient in book["coefficients"].items():
        RuleSet.objects.update_or_create(account_kind=kind, defaults={"call_coefficient": coefficient})
    desk = Desk.objects.create(code="SQL", name="SQL")
    instruments = Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"T{n}",
                lot_size=100,
                option_type=OptionType.CALL if spec.pop("option") else "",
                **spec,
            )
            for n, spec in enumerate(dict(spec) for spec in book["instruments"])
        ]
    )
    accounts = []
    for n, spec in enumerate(book["accounts"]):
        holder = Account.objects.create(
            account_no=f"S{n}",
            desk=desk,
            **{
                name: spec[name]
                for name in ("kind", "credit_limit", "accrued_interest", "debt_margin", "trading_limit")
            },
        )
        CashBalance.objects.bulk_create(
            [CashBalance(account=holder, currency=currency, amount=value) for currency, value in spec["cash"].items()]
        )
        Position.objects.bulk_create(
            [
                Position(account=holder, instrument=instruments[index], quantity=quantity)
                for index, quantity in spec["positions"].items()
            ]
        )
        accounts.append(holder)
    return accounts


def _pure(holder: Account, coefficients, fx=RATES) -> dict | None:
    """What the pure engine stores for this account, or None when it refuses it."""
    positions = [
        (InstrumentTerms(*(getattr(p.instrument, name) for name in Instrument.TERM_FIELDS)), p.quantity)
        for p in holder.positions.select_related("instrument")
    ]
    try:
        figures = calculations.compute_figures(
            account=AccountTerms(
                holder.credit_limit, holder.accrued_interest, holder.debt_margin, holder.trading_limit
            ),
            cash={c.currency: c.amount for c in holder.cash_balances.all()},
            positions=positions,
            fx=fx,
            call_coefficient=coefficients[holder.kind],
        )
        stored = calculations.round_figures(figures).as_dict()
    except (calculations.MissingFxRate, ArithmeticError):
        return None
    if _too_large_to_store(stored):
        return None
    stored["call_type"] = stored["call_type"] or ""
    return stored


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=books)
def test_sql_engine_stores_what_the_pure_engine_computes(book):
    with transaction.atomic():
        accounts = _write(book)
        ids = [holder.pk for holder in accounts]
        result = sql_engine.store_figures({"in": ids}, now=timezone.now())
        stored = {
            row["account_id"]: row
            for row in AccountRisk.objects.filter(account_id__in=ids).values("account_id", *AccountRisk.FIGURE_FIELDS)
        }
        for holder in accounts:
            expected = _pure(holder, book["coefficients"])
            if expected is None:
                assert holder.pk in result.refused, holder.account_no
                assert holder.pk not in stored
                continue
            assert holder.pk not in result.refused, holder.account_no
            got = {name: stored[holder.pk][name] for name in AccountRisk.FIGURE_FIELDS}
            assert got == expected, holder.account_no
            # Equal and written alike: the same scale, so pages and exports show the same text.
            assert {name: str(value) for name, value in got.items()} == {
                name: str(value) for name, value in expected.items()
            }
        assert set(result.moved) == set(ids) - set(result.refused)  # all new
        transaction.set_rollback(True)


def test_refused_accounts_are_described_by_the_pure_engine_and_the_rest_stored():
    FxRate.objects.update_or_create(currency="USD", defaults={"rate": Decimal("7.8")})
    desk = Desk.objects.create(code="SQL", name="SQL")
    stock = Instrument.objects.create(symbol="E1", currency="EUR", price=Decimal("10"), lot_size=1)
    fine = Account.objects.create(account_no="OK1", desk=desk)
    CashBalance.objects.create(account=fine, currency="USD", amount=Decimal("100"))
    no_rate = Account.objects.create(account_no="EUR1", desk=desk)
    Position.objects.create(account=no_rate, instrument=stock, quantity=0)  # even a flat position needs its rate
    FxRate.objects.create(currency="XAU", rate=Decimal("20000"))
    huge = Account.objects.create(account_no="BIG1", desk=desk)
    CashBalance.objects.create(account=huge, currency="XAU", amount=Decimal("99999999999999999999.9999"))

    result = recompute_accounts(account_ids=[fine.pk, no_rate.pk, huge.pk])

    assert result.failed == {
        "EUR1": "no FX rate for currency 'EUR'",
        "BIG1": "its total_cash (1999999999999999999999998.00) is too large to store",
    }
    assert AccountRisk.objects.get(account=fine).total_cash == Decimal("780.00")
    assert not AccountRisk.objects.filter(account__in=[no_rate, huge]).exists()


def test_moved_counts_only_accounts_whose_stored_figures_changed():
    desk = Desk.objects.create(code="SQL", name="SQL")
    stock = Instrument.objects.create(symbol="M1", price=Decimal("10"), lot_size=1, mm_rate=Decimal("0.5"))
    holders = [Account.objects.create(account_no=f"M{n}", desk=desk) for n in range(3)]
    for holder in holders[:2]:
        Position.objects.create(account=holder, instrument=stock, quantity=100)
    assert recompute_accounts(account_ids=[h.pk for h in holders]).moved == 3  # first figures

    assert recompute_accounts(account_ids=[h.pk for h in holders]).moved == 0
    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("11"))
    assert recompute_accounts(account_ids=[h.pk for h in holders]).moved == 2


instrument_change = st.fixed_dictionaries(
    {},
    optional={
        "price": st.decimals(min_value=0, max_value=Decimal("9999999"), places=6),
        "currency": st.sampled_from(CURRENCIES),
        "multiplier": st.sampled_from([1, 100, 1000]),
        "status": st.sampled_from(["normal", "suspended", "long_suspended", "delisted"]),
        "mm_rate": rate,
        "short_fm_rate": st.none() | rate,
    },
)
step = st.one_of(
    st.tuples(st.just("market"), st.dictionaries(st.integers(0, 7), instrument_change, min_size=1, max_size=4)),
    st.tuples(st.just("fx"), st.sampled_from(["USD", "JPY", "EUR"]), st.none() | st.decimals(1, 20, places=4)),
    st.tuples(st.just("book"), st.integers(0, 11), st.integers(0, 7), st.none() | st.integers(-(10**6), 10**6), amount),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=books, steps=st.lists(step, min_size=1, max_size=4))
def test_followed_prices_store_what_the_pure_engine_computes_from_the_book(book, steps):
    """Prices, terms and FX rates move, positions and cash change, each followed as the console follows
    it (a market move by the holders' differences; a book change or an FX rate by a recompute of the
    accounts it touches): after every step each account's figures are what the pure engine computes
    from its book at the current terms, never a difference counted twice or on sums that went stale."""
    from risk.services import affected_accounts

    with transaction.atomic():
        accounts = _write(book)
        ids = [holder.pk for holder in accounts]
        instruments = list(Instrument.objects.filter(symbol__startswith="T").order_by("pk"))
        sql_engine.store_figures({"in": ids}, now=timezone.now())
        fx = dict(RATES)
        for kind, *change in steps:
            if kind == "market":
                [changes] = change
                for index, values in changes.items():
                    Instrument.objects.filter(pk=instruments[index].pk).update(**values)
                sql_engine.store_figures(
                    {"holders_of": [instruments[index].pk for index in changes]}, now=timezone.now()
                )
            elif kind == "fx":
                currency, value = change
                if value is None:
                    FxRate.objects.filter(currency=currency).delete()
                    fx.pop(currency, None)
                else:
                    FxRate.objects.update_or_create(currency=currency, defaults={"rate": value})
                    fx[currency] = value
                touched = affected_accounts(currencies=[currency])
                sql_engine.store_figures({"in": sorted(touched)}, now=timezone.now())
            else:
                account_index, instrument_index, quantity, cash = change
                holder = accounts[account_index % len(accounts)]
                if quantity is None:
                    Position.objects.filter(account=holder, instrument=instruments[instrument_index]).delete()
                    CashBalance.objects.update_or_create(account=holder, currency="HKD", defaults={"amount": cash})
                else:
                    Position.objects.update_or_create(
                        account=holder, instrument=instruments[instrument_index], defaults={"quantity": quantity}
                    )
                sql_engine.store_figures({"in": [holder.pk]}, now=timezone.now())
            stored = {
                row["account_id"]: row
                for row in AccountRisk.objects.filter(account_id__in=ids).values(
                    "account_id", *AccountRisk.FIGURE_FIELDS
                )
            }
            for holder in Account.objects.filter(pk__in=ids):
                expected = _pure(holder, book["coefficients"], fx)
                if expected is None:
                    continue  # refused when read: the pure engine describes it (test above)
                got = {name: stored[holder.pk][name] for name in AccountRisk.FIGURE_FIELDS}
                assert got == expected, (holder.account_no, kind, change)
        transaction.set_rollback(True)


def test_a_book_change_clears_the_sums_so_the_next_price_is_followed_from_the_book():
    desk = Desk.objects.create(code="SQL", name="SQL")
    stock = Instrument.objects.create(symbol="B1", price=Decimal("10"), lot_size=1, mm_rate=Decimal("0.5"))
    other = Instrument.objects.create(symbol="B2", price=Decimal("3"), lot_size=1)
    holder = Account.objects.create(account_no="B0", desk=desk)
    position = Position.objects.create(account=holder, instrument=stock, quantity=100)
    CashBalance.objects.create(account=holder, currency="HKD", amount=Decimal("5"))
    sql_engine.store_figures({"in": [holder.pk]}, now=timezone.now())
    assert AccountRisk.objects.get(account=holder).exact_cash == Decimal("5")

    # Changes to the book, not yet recomputed, each clear the sums (the database's triggers).
    changes = [
        ("quantity", True, lambda: Position.objects.filter(pk=position.pk).update(quantity=300)),
        ("new position", True, lambda: Position.objects.create(account=holder, instrument=other, quantity=7)),
        ("cash", True, lambda: CashBalance.objects.filter(account=holder).update(amount=Decimal("6"))),
        ("a rate it holds no cash in", False, lambda: FxRate.objects.create(currency="USD", rate=Decimal("7.8"))),
        ("new cash", True, lambda: CashBalance.objects.create(account=holder, currency="USD", amount=Decimal("1"))),
        ("its cash's rate", True, lambda: FxRate.objects.filter(currency="USD").update(rate=Decimal("7.9"))),
    ]
    for name, clears, change in changes:
        AccountRisk.objects.filter(account=holder).update(exact_cash=Decimal("5"))
        change()
        assert (AccountRisk.objects.get(account=holder).exact_cash is None) is clears, name
    AccountRisk.objects.filter(account=holder).update(exact_cash=None)

    Instrument.objects.filter(pk=stock.pk).update(price=Decimal("12"))
    sql_engine.store_figures({"holders_of": [stock.pk]}, now=timezone.now())
    figures = AccountRisk.objects.get(account=holder)
    assert figures.long_mv == Decimal("3621.00")  # 300 x 12 + 7 x 3, from the book
    assert figures.total_cash == Decimal("13.90")  # 6 + 1 x 7.9
    assert figures.exact_cash == Decimal("13.9")


def test_figures_rows_leave_room_on_their_page_for_their_next_version():
    """A pass rewrites every holder's row: with room on its page, the new version skips the indexes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [AccountRisk._meta.db_table])
        assert "fillfactor=50" in cursor.fetchone()[0]
