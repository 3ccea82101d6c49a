"""``import_book`` and ``export_risk`` (docs/book-format.md)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from book.book_format import BookInvalid
from book.models import Account, CashBalance, Desk, FxRate, Instrument, LendingAvailability, Position
from risk.models import AccountRisk

pytestmark = pytest.mark.django_db


def export(*accounts: str) -> list[dict]:
    out = io.StringIO()
    args = [arg for account in accounts for arg in ("--account", account)]
    call_command("export_risk", *args, stdout=out)
    return json.loads(out.getvalue())


def book_state() -> dict:
    """Everything an import writes, for comparing before and after."""
    return {
        "fx": list(FxRate.objects.values_list("currency", "rate", "as_of")),
        "desks": list(Desk.objects.values_list("pk", "code", "name")),
        "instruments": list(Instrument.objects.order_by("pk").values()),
        "accounts": list(Account.objects.order_by("pk").values()),
        "cash": list(CashBalance.objects.order_by("pk").values()),
        "positions": list(Position.objects.order_by("pk").values()),
        "risk": list(AccountRisk.objects.order_by("pk").values()),
        "lending": list(LendingAvailability.objects.values()),
    }


def test_export_after_import_matches_the_spec_worked_example(worked_book, tmp_path):
    path = tmp_path / "book.json"
    path.write_text(json.dumps(worked_book))
    call_command("import_book", str(path), stdout=io.StringIO())

    [row] = export("M100001")

    assert row == {
        "account_no": "M100001",
        "kind": "margin",
        "total_cash": "-592200.00",
        "long_mv": "765000.00",
        "short_mv": "-80000.00",
        "equity": "92800.00",
        "illiquid_mv": "5000.00",
        "liquid_nav": "87800.00",
        "exposure": "840000.00",
        "nav_ratio": "0.1045",
        "im": "273000.00",
        "mm": "227000.00",
        "fm": "181000.00",
        "loan": "592200.00",
        "excess_financing": "92200.00",
        "margin_shortfall": "135400.00",
        "force_shortfall": "89400.00",
        "call_amount": "135400.00",
        "call_type": "force_call",
        # Opened at the book's as_of (Wed 23 Dec 2026, in session). Sessions after it: the 24th (a
        # half day), then Christmas and the weekend are skipped, the 28th, the 29th.
        "call": {
            "status": "open",
            "type": "force_call",
            "triggered_at": "2026-12-23T10:00:00+08:00",
            "deadline": "2026-12-29T16:00:00+08:00",
            "call_amount_at_trigger": "135400.00",
            "reopened": 0,
        },
    }


def test_export_lists_every_account_sorted(import_book, worked_book):
    import_book(worked_book)

    rows = export()

    assert [row["account_no"] for row in rows] == ["C300001", "I200001", "M100001", "M100002"]
    assert rows[0]["nav_ratio"] is None
    assert rows[0]["call_type"] is None
    assert rows[1]["call_type"] == "debit"


def test_importing_the_same_file_twice_changes_nothing(import_book, worked_book):
    import_book(worked_book)
    before = book_state()

    result = import_book(worked_book)

    assert book_state() == before
    assert sum(result.created.values()) == sum(result.updated.values()) == 0


def test_cash_and_positions_in_the_file_replace_what_the_account_had(import_book, worked_book):
    import_book(worked_book)
    worked_book["accounts"] = [
        {
            "account_no": "M100001",
            "cash": {"HKD": "1000"},
            "positions": [{"symbol": "700.HK", "quantity": 100}],
        }
    ]

    import_book(worked_book)

    account = Account.objects.get(account_no="M100001")
    assert dict(account.cash_balances.values_list("currency", "amount")) == {"HKD": 1000}
    assert list(account.positions.values_list("instrument__symbol", "quantity")) == [("700.HK", 100)]
    [row] = export("M100001")
    assert row["long_mv"] == "38020.00"
    assert row["call_type"] is None
    assert account.name == "Chan Tai Man"  # left out of the file: kept


def test_a_price_change_recomputes_only_the_holders(import_book, worked_book):
    import_book(worked_book)
    untouched = AccountRisk.objects.get(account__account_no="M100001").computed_at

    import_book({"as_of": "2026-12-24T10:00:00+08:00", "instruments": [{"symbol": "700.HK", "price": "300"}]})

    assert AccountRisk.objects.get(account__account_no="M100001").computed_at == untouched
    [row] = export("M100002")
    assert row["long_mv"] == "150000.00"
    assert Instrument.objects.get(symbol="700.HK").price_time.isoformat() == "2026-12-24T02:00:00+00:00"


def test_an_fx_change_recomputes_accounts_with_that_currency(import_book, worked_book):
    import_book(worked_book)

    import_book({"fx_rates": {"USD": "7.7"}})

    [row] = export("M100001")
    assert row["total_cash"] == "-592300.00"


def test_an_fx_rate_that_moves_more_than_a_tenth_is_written_and_said(import_book, worked_book):
    import_book(worked_book)

    slipped = import_book({"fx_rates": {"USD": "78", "CNY": "1.0"}})  # a digit too many; CNY -7.41%

    assert slipped.warnings == ["fx_rates.USD: 78 is +900.00% from the stored 7.8, more than 10%: check it"]
    assert FxRate.objects.get(currency="USD").rate == 78
    assert import_book({"fx_rates": {"USD": "7.8"}}).warnings == [
        "fx_rates.USD: 7.8 is -90.00% from the stored 78, more than 10%: check it"
    ]
    assert import_book({"fx_rates": {"USD": "8.58031"}}).warnings == [  # +10.004%: never reads as 10% itself
        "fx_rates.USD: 8.58031 is +10.01% from the stored 7.8, more than 10%: check it"
    ]
    assert import_book({"fx_rates": {"USD": "9.4"}}).warnings == []  # +9.55%


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: b["accounts"][0]["positions"].append({"symbol": "XYZ", "quantity": 1}),
            "accounts[0].positions[3].symbol: unknown instrument 'XYZ'",
        ),
        (lambda b: b["accounts"][1].update(desk="NOPE"), "accounts[1].desk: unknown desk 'NOPE'"),
        (lambda b: b["instruments"][0].update(mm_rate="1.5"), 'instruments[0].mm_rate: must be at most 1, got "1.5"'),
        (lambda b: b["instruments"][1].update(price="-1"), "instruments[1].price: must be at least 0"),
        (lambda b: b["instruments"][1].update(price="abc"), "instruments[1].price: must be a number"),
        (lambda b: b["instruments"][1].update(lot_size=0), "instruments[1].lot_size: must be at least 1"),
        (lambda b: b["instruments"][1].update(status="gone"), "instruments[1].status: must be one of"),
        (lambda b: b["accounts"][0]["cash"].update(JPY="5"), "accounts[0].cash.JPY: no FX rate for 'JPY'"),
        (lambda b: b["accounts"][0]["cash"].update(HKD="1.23456"), "accounts[0].cash.HKD: has more than 4 decimal"),
        (
            lambda b: b["accounts"][0]["positions"][0].update(quantity=1.5),
            "accounts[0].positions[0].quantity: must be a whole number",
        ),
        (
            lambda b: b["accounts"][0]["positions"][0].update(quantity=True),
            "accounts[0].positions[0].quantity: must be a whole number",
        ),
        (lambda b: b["accounts"][2].update(email="not-an-email"), "accounts[2].email: is not an email address"),
        (lambda b: b["accounts"][2].update(phone="NaN"), "accounts[2].phone: is not a phone number"),
        (lambda b: b["accounts"][2].update(phone="+852 12"), "accounts[2].phone: is not a phone number"),
        (lambda b: b["accounts"][2].update(kind="loan"), "accounts[2].kind: must be one of"),
        (lambda b: b["accounts"].append({"name": "x"}), "accounts[4].account_no: is required"),
        (
            lambda b: b["accounts"].append({"account_no": "M100001"}),
            "accounts[4].account_no: account 'M100001' appears twice",
        ),
        (
            lambda b: b["accounts"].append({"account_no": "m100001"}),
            "accounts[4].account_no: account 'm100001' differs from 'M100001', earlier in the file, only in capitals",
        ),
        (
            lambda b: b["instruments"].append({"symbol": "700.hk", "price": "1"}),
            "instruments[5].symbol: instrument '700.hk' differs from '700.HK', earlier in the file, only in capitals",
        ),
        (
            lambda b: b["accounts"].append({"account_no": "M100002\u200b"}),
            "accounts[4].account_no: contains an invisible character (U+200B)",
        ),
        (
            lambda b: b["accounts"].append({"account_no": "M10000１"}),
            "accounts[4].account_no: must be written in its plain form ('M100001')",
        ),
        (
            lambda b: b["accounts"].append({"account_no": "M100002\u0301"}),
            "accounts[4].account_no: contains a mark laid over another character (U+0301)",
        ),
        (lambda b: b["accounts"].append({"account_no": "X/.."}), "accounts[4].account_no: has . or .. between slashes"),
        (
            lambda b: b["desks"].append({"code": "hk1"}),
            "desks[2].code: desk 'hk1' differs from 'HK1', earlier in the file, only in capitals",
        ),
        (lambda b: b["accounts"][0].update(positons=[]), "accounts[0].positons: unknown key"),
        (lambda b: b.update(fx_rates={"USD": "0"}), "fx_rates.USD: must be a positive number"),
        (lambda b: b.update(fx_rates={"HKD": "2", "USD": "7.8"}), "fx_rates.HKD: HKD is always 1"),
        (lambda b: b.update(as_of="yesterday"), "as_of: must be an ISO 8601 date and time"),
        (lambda b: b.update(as_of="2026-12-23"), 'as_of: must be a date and time, got a date alone: "2026-12-23"'),
        (
            lambda b: b["instruments"].append({"symbol": "OPT", "kind": "option"}),
            "instruments[5]: an option needs its underlying, option_type, strike, expiry",
        ),
        (
            lambda b: b["instruments"][0].update(kind="option"),
            "instruments[0]: an option needs its underlying, option_type, strike, expiry",
        ),
        (
            lambda b: b["lending"].append({"symbol": "700.HK", "lendable": -1}),
            "lending[1].lendable: must be at least 0",
        ),
        (
            lambda b: b["instruments"][4].update(underlying="NOPE.HK"),
            "instruments[4].underlying: unknown instrument 'NOPE.HK'",
        ),
        (lambda b: b["instruments"][4].update(underlying=" "), "instruments[4].underlying: must not be empty"),
        (
            lambda b: b["instruments"].append({**b["instruments"][4], "symbol": "O2", "underlying": "TCH270330C400"}),
            "instruments[5].underlying: 'TCH270330C400' is an option; an underlying must be a stock",
        ),
        (
            lambda b: b["instruments"].extend(
                [
                    {**b["instruments"][4], "symbol": "O2", "underlying": "O3"},
                    {**b["instruments"][4], "symbol": "O3", "underlying": "O2"},
                ]
            ),
            "instruments[6].underlying: 'O2' is an option; an underlying must be a stock",
        ),
        (
            lambda b: b["instruments"][3].update(
                kind="option", underlying="TCH270330C400", option_type="put", strike="1", expiry="2027-01-01"
            ),
            "instruments[3].kind: '700.HK' is the underlying of 'TCH270330C400'; an underlying must be a stock",
        ),
        (
            lambda b: b["lending"].append({"symbol": "TCH270330C400", "lendable": 5}),
            "lending[1].symbol: 'TCH270330C400' is an option; only a stock is lent",
        ),
    ],
)
def test_an_invalid_value_names_record_and_field_and_writes_nothing(import_book, worked_book, change, message):
    import_book({"desks": [{"code": "HK0"}]})
    before = book_state()
    change(worked_book)

    with pytest.raises(BookInvalid) as raised:
        import_book(worked_book)

    assert any(error.startswith(message) for error in raised.value.errors), raised.value.errors
    assert book_state() == before


@pytest.mark.parametrize(
    ("renamed", "error"),
    [
        (
            {"instruments": [{"symbol": "700.hk", "price": "1"}]},
            "instruments[0].symbol: the instrument '700.HK' exists, differing only in capitals",
        ),
        (
            {"accounts": [{"account_no": "M2"}, {"account_no": "m100001", "name": "Another"}]},
            "accounts[1].account_no: the account 'M100001' exists, differing only in capitals",
        ),
    ],
)
def test_a_number_stored_in_other_capitals_is_refused_and_nothing_is_written(import_book, worked_book, renamed, error):
    import_book(worked_book)
    before = book_state()

    with pytest.raises(BookInvalid) as raised:
        import_book(renamed)

    assert raised.value.errors == [error]
    assert book_state() == before
    import_book({"accounts": [{"account_no": "M100001", "name": "Renamed"}]})  # the stored spelling still works
    assert Account.objects.get(account_no="M100001").name == "Renamed"


def test_the_command_exits_non_zero_with_the_message(tmp_path, worked_book, capsys):
    worked_book["accounts"][0]["positions"][2]["symbol"] = "XYZ"
    path = tmp_path / "book.json"
    path.write_text(json.dumps(worked_book))
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_book", str(path), stderr=stderr)

    assert "accounts[0].positions[2].symbol: unknown instrument 'XYZ'" in stderr.getvalue()
    assert not Account.objects.exists()


def test_the_command_warns_of_what_it_writes_but_looks_wrong(tmp_path):
    book = {
        "as_of": "2027-01-20T10:00:00+08:00",  # four weeks ahead of the tests' clock (23 December 2026)
        "instruments": [
            {"symbol": "R.HK", "price": "10", "im_rate": "0.1", "mm_rate": "0.5", "fm_rate": "0.9"},
            {"symbol": "S.HK", "price": "10", "im_rate": "0.5", "mm_rate": "0.4", "fm_rate": "0.3",
             "short_fm_rate": "0.6"},
            {"symbol": "T.HK", "price": "10", "im_rate": "0.5", "mm_rate": "0.5", "fm_rate": "0.5"},
        ],
    }  # fmt: skip
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book))
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("import_book", str(path), stdout=stdout, stderr=stderr)

    assert stderr.getvalue().splitlines() == [
        "warning: as_of is 27.9 days ahead of this clock: its prices are stamped then, and a tick or a lending"
        " report timed before it is refused as older",
        "warning: instruments[0]: the long margin rates do not run initial >= maintenance >= force-liquidation"
        " (0.100000, 0.500000, 0.900000); the admin would refuse them",
        "warning: instruments[1]: the short margin rates do not run initial >= maintenance >= force-liquidation"
        " (0.500000, 0.400000, 0.600000); the admin would refuse them",
    ]
    assert stdout.getvalue().startswith("fx_rates: 0 created")  # written all the same
    assert Instrument.objects.filter(symbol__in=["R.HK", "S.HK", "T.HK"]).count() == 3


def test_the_command_shows_a_hundred_errors_and_counts_them_all(tmp_path, capsys, monkeypatch):
    accounts = [{"account_no": f"Z{n:04d}", "desk": "NODESK"} for n in range(250)]
    path = tmp_path / "book.json"
    path.write_text(json.dumps({"accounts": accounts}))
    stderr = io.StringIO()

    with pytest.raises(CommandError, match=r"book.json: 250 error\(s\); nothing was written"):
        call_command("import_book", str(path), stderr=stderr)

    lines = stderr.getvalue().splitlines()
    assert len(lines) == 101
    assert lines[-1] == "(stopped after 100 errors: 150 more not shown)"
    path.write_text(json.dumps({"accounts": [{"account_no": f"Z{n:04d}", "desk": 5} for n in range(250)]}))
    with pytest.raises(CommandError, match=r"at least 100 error\(s\)"):  # the file was read no further
        call_command("import_book", str(path), stderr=io.StringIO())

    from book.management.commands import import_book

    monkeypatch.setattr(import_book, "MAX_BOOK_BYTES", 100)
    with pytest.raises(CommandError, match="larger than 0 MiB; split the book into files"):
        call_command("import_book", str(path), stderr=io.StringIO())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ("[]", "book: must be an object, got []"),
        ('{"accounts": {}}', "accounts: must be a list, got {}"),
        ('{"accounts": [1]}', "accounts[0]: must be an object, got 1"),
    ],
)
def test_a_malformed_file_is_refused(db, text, message):
    from book.book_import import import_book_text

    with pytest.raises(BookInvalid) as raised:
        import_book_text(text)

    assert raised.value.errors[0] == message


def test_numbers_are_taken_exactly_not_as_floats(import_book):
    import_book({"accounts": [{"account_no": "X1", "cash": {"HKD": 0.1}, "positions": []}]})
    import_book({"accounts": [{"account_no": "X1", "cash": {"HKD": 0.3}}]})

    assert str(CashBalance.objects.get().amount) == "0.3000"


def test_recompute_command_and_unknown_account(import_book, worked_book):
    import_book(worked_book)
    AccountRisk.objects.all().delete()
    out = io.StringIO()

    call_command("recompute", "--account", "M100001", stdout=out)

    assert "Recomputed 1 accounts" in out.getvalue()
    assert list(AccountRisk.objects.values_list("account__account_no", flat=True)) == ["M100001"]
    with pytest.raises(CommandError, match="unknown account"):
        call_command("recompute", "--account", "NOPE")


def test_the_commands_take_an_account_number_in_any_capitals_as_the_book_does(import_book, worked_book):
    import_book(worked_book)
    out = io.StringIO()

    call_command("export_risk", "--account", "m100001", "--account", "I200001", stdout=out)

    assert [row["account_no"] for row in json.loads(out.getvalue())] == ["I200001", "M100001"]
    call_command("recompute", "--account", "m100001", stdout=io.StringIO())
    with pytest.raises(CommandError, match=r"unknown account\(s\): 'NOPE', '" + "x" * 40 + "'$"):
        call_command("export_notices", "--account", "NOPE", "--account", "x" * 10_000, "--account", "M100001")


def book_with(**account) -> str:
    """A small valid book whose one account takes ``account``'s keys; JSON text, escapes kept as given."""
    base = {"account_no": "A1", "cash": {"HKD": "-1000"}, "positions": [{"symbol": "700.HK", "quantity": 100}]}
    return json.dumps({"instruments": [{"symbol": "700.HK", "price": "380"}], "accounts": [base | account]})


NUL = "\u0000"
SURROGATE = "\ud800"
BAD_BOOKS = [
    # NUL bytes and lone surrogates in identifiers, names, keys: refused by name, whatever the database.
    (book_with(account_no=f"A{NUL}1"), "accounts[0].account_no: contains a NUL character (U+0000)"),
    (book_with(name=f"Chan{NUL}"), "accounts[0].name: contains a NUL character (U+0000)"),
    (book_with(name=SURROGATE), "accounts[0].name: contains a lone surrogate (U+D800)"),
    (book_with(phone="+852\u00079123"), "accounts[0].phone: contains a control character (U+0007)"),
    (book_with(**{SURROGATE: 1}), 'accounts[0]["\\ud800"]: unknown key'),
    (book_with(cash={f"HK{NUL}": "1"}), 'accounts[0].cash["HK\\u0000"]: must be a 3-letter upper-case currency code'),
    (book_with(cash={"HKD\n": "1"}), 'accounts[0].cash["HKD\\n"]: must be a 3-letter upper-case currency code'),
    (json.dumps({"fx_rates": {SURROGATE: "1"}}), 'fx_rates["\\ud800"]: must be a 3-letter upper-case currency code'),
    (json.dumps({"desks": [{"code": SURROGATE}]}), "desks[0].code: contains a lone surrogate (U+D800)"),
    (book_with(name="Chan \u202eTai Man"), "accounts[0].name: contains a bidirectional override (U+202E)"),
    (book_with(email="a@\u200bexample.com"), "accounts[0].email: is not an email address: it holds U+200B"),
    (book_with(account_no="\u041c100001"), "accounts[0].account_no: mixes a Greek or Cyrillic letter (U+041C)"),
    (book_with(name="Chan Tai Man\x1c"), "accounts[0].name: contains a control character (U+001C)"),
    (book_with(name="\x85"), "accounts[0].name: contains a control character (U+0085)"),
    (json.dumps({SURROGATE + NUL: 1}), '["\\ud800\\u0000"]: unknown key'),
    # Numbers: ASCII digits only, never too long to read, never too large to convert.
    (
        book_with(positions=[{"symbol": "700.HK", "quantity": "٣"}]),
        "accounts[0].positions[0].quantity: must be a whole",
    ),
    (book_with(credit_limit="１"), 'accounts[0].credit_limit: must be a number, got "１"'),
    (book_with(credit_limit="²"), 'accounts[0].credit_limit: must be a number, got "²"'),
    (book_with(credit_limit="1e99999999999999999999"), "accounts[0].credit_limit: is out of range"),
    (
        book_with(credit_limit="99999999999999999999"),
        'accounts[0].credit_limit: must be at most 10000000000000000000, got "99999999999999999999"',
    ),
    (
        book_with(cash={"HKD": "-10000000000000000000.0001"}),
        'accounts[0].cash.HKD: must be at least -10000000000000000000, got "-10000000000000000000.0001"',
    ),
    (
        book_with().replace('"quantity": 100', '"quantity": ' + "9" * 5000),
        "accounts[0].positions[0].quantity: is too large: 99999",
    ),
    (
        book_with(positions=[{"symbol": "700.HK", "quantity": "1e999999999"}]),
        'accounts[0].positions[0].quantity: is too large: "1e999999999"',
    ),
    (
        book_with().replace('"quantity": 100', '"quantity": 1e999999999'),
        "accounts[0].positions[0].quantity: is too large: 1E+999999999",
    ),
    (book_with().replace('"-1000"', "-" + "9" * 5000), "accounts[0].cash.HKD: is too large"),
    (book_with().replace('"-1000"', "1e99999999999999999999"), "not valid JSON: the number"),
    ('{"fx_rates": {"USD": "7.8", "USD": "1"}}', 'the key "USD" appears twice in one object'),
    (
        json.dumps({"instruments": [{"symbol": "X", "lot_size": 2**31}]}),
        "instruments[0].lot_size: must be at most 2147483647, got 2147483648",
    ),
    # Values that fit but multiply past what the figures can hold.
    (
        book_with(cash={"HKD": "-1" + "0" * 19}),
        "accounts.A1: its nav_ratio (-263157894736841.1053) is too large to store",
    ),
    (
        book_with(positions=[{"symbol": "700.HK", "quantity": 2**62}]).replace('"price": "380"', '"price": "1e13"'),
        "accounts.A1: its long_mv (46116860184273879040000000000000.00) is too large to store",
    ),
    # Nesting deeper than Python can read, and dates that are not dates.
    ("[" * 100_000, "not valid JSON: nested too deeply"),
    ('{"accounts": ' + "[" * 5000 + "]" * 5000 + "}", "not valid JSON: nested too deeply"),
    (json.dumps({"as_of": "9999-99-99T99:99"}), 'as_of: must be an ISO 8601 date and time, got "9999-99-99T99:99"'),
    (json.dumps({"as_of": "0001-01-01T00:00+08:00"}), 'as_of: is out of range: "0001-01-01T00:00+08:00"'),
    (json.dumps({"as_of": "9999-12-31T23:00Z"}), 'as_of: is out of range: "9999-12-31T23:00Z"'),
    (
        json.dumps({"instruments": [{"symbol": "O", "kind": "option", "expiry": "0000-00-00"}]}),
        'instruments[0].expiry: must be a date YYYY-MM-DD, got "0000-00-00"',
    ),
    (
        json.dumps({"instruments": [{"symbol": "O", "kind": "option", "expiry": "9999-12-31"}]}),
        'instruments[0].expiry: must be from 2000-01-01 to before 2100-01-01, got "9999-12-31"',
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_BOOKS)
def test_nasty_values_are_refused_by_the_command_with_path_and_reason(
    import_book, worked_book, tmp_path, text, message
):
    import_book(worked_book)
    before = book_state()
    path = tmp_path / "book.json"
    path.write_text(text, encoding="utf-8")
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_book", str(path), stdout=io.StringIO(), stderr=stderr)

    printed = stderr.getvalue()
    assert message in printed, printed
    printed.encode("utf-8")  # every message can be written out, whatever the file held
    assert book_state() == before


def test_a_lone_surrogate_encoded_in_the_file_bytes_is_refused(db, tmp_path):
    path = tmp_path / "book.json"
    path.write_bytes(b'{"desks": [{"code": "X", "name": "\xed\xa0\x80"}]}')
    stderr = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_book", str(path), stdout=io.StringIO(), stderr=stderr)

    assert "desks[0].name: contains a lone surrogate (U+D800)" in stderr.getvalue()
    assert not Desk.objects.exists()


def test_names_keep_spaces_and_chinese_letters(import_book):
    import_book(json.loads(book_with(name="陳大文 Chan", phone="+852 9123 4567")))

    assert Account.objects.get().name == "陳大文 Chan"


def test_a_name_of_only_invisible_characters_is_stored_as_none(import_book):
    import_book({"accounts": [{"account_no": "Z1", "name": "\u200b\ufeff"}]})

    assert Account.objects.get(account_no="Z1").name == ""


def test_capitals_beyond_ascii_are_the_databases_word_and_never_a_server_error(import_book, is_postgres):
    import_book({"accounts": [{"account_no": "straße"}, {"account_no": "é1"}]})

    with pytest.raises(BookInvalid) as raised:  # ß has no capital of its own: STRAßE is straße in capitals
        import_book({"accounts": [{"account_no": "STRAßE"}]})
    assert raised.value.errors == ["accounts[0].account_no: the account 'straße' exists, differing only in capitals"]

    if is_postgres:  # PostgreSQL's UPPER() folds é; its unique index refuses É1 beside é1
        with pytest.raises(BookInvalid) as raised:
            import_book({"accounts": [{"account_no": "É1"}]})
        assert raised.value.errors == ["accounts: an account number is stored already in other capitals"]
    else:  # SQLite's UPPER() folds ASCII letters only
        import_book({"accounts": [{"account_no": "É1"}]})
        assert Account.objects.filter(account_no__in=["é1", "É1"]).count() == 2
