"""The book file (docs/book-format.md): parsing and validation, with no database access.

Every problem is reported with the path of the record and field, e.g.
``accounts[12].positions[3].quantity: must be a whole number, got '1.5'``. Checks that need the
database (does this symbol exist?) are made by :mod:`risk.book_import`.

The rules for text and numbers here are the project's: the price API (:mod:`risk.ticks`) and the
console's forms use them too, so a value refused in one place is refused in every other.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from console.fields import date_alone, has_impossible_offset
from console.text import (
    KEY_PROBLEMS,
    blank,
    character_name,
    edge_forbidden,
    fold,
    hidden_in_address,
    key_problem,
    printable,
)

from . import models as m
from . import times

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
MAX_ERRORS = 100
STOPPED = "(stopped after"
# A number as text: ASCII digits only, so '٣' or '１' is refused rather than read as 3 or 1.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Whole numbers in JSON longer than this are read as Decimal: int() refuses more than 4,300 digits,
# and no field takes more than 19, so the field's own check says "is too large".
MAX_INT_DIGITS = 30
# Whole numbers are stored in 64-bit integer columns (lot size and multiplier in 32-bit ones).
MAX_WHOLE_DIGITS = 19
MAX_INT32 = 2**31 - 1
DESCRIBED_LENGTH = 40


class BookInvalid(Exception):
    """A book refused, with its errors: at most ``MAX_ERRORS`` of them, then a line that says how many
    more (a file of 400,000 accounts on an unknown desk is not 400,000 lines). ``count`` is of the
    errors themselves; ``stopped`` whether the file was read no further (there may be more)."""

    def __init__(self, errors: list[str]):
        self.stopped = any(error.startswith(STOPPED) for error in errors)
        errors = [error for error in errors if not error.startswith(STOPPED)]
        self.count = len(errors)
        # The messages quote what the file holds; whatever it holds, they print.
        shown = [printable(error) for error in errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            shown.append(f"{STOPPED} {MAX_ERRORS} errors: {len(errors) - MAX_ERRORS} more not shown)")
        elif self.stopped:
            shown.append(f"{STOPPED} {MAX_ERRORS} errors: the file was read no further)")
        super().__init__("\n".join(shown))
        self.errors = shown


class FieldError(ValueError):
    """A value that cannot be used; the message says why, without the path."""


class JsonMalformed(ValueError):
    """Text that cannot be read as JSON; the message says why."""


def json_kind(value: Any) -> str:
    """What a value read from JSON is, in JSON's words: object, array, string, number, true, false, null."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return "number"


def describe(value: Any) -> str:
    """A value as a message quotes it: JSON, printable, at most 40 characters."""
    if isinstance(value, str) and len(value) > DESCRIBED_LENGTH:
        value = value[: DESCRIBED_LENGTH + 1]  # the rest is cut anyway; a huge string need not be copied
    try:
        # A number read from JSON is a Decimal: shown as the number it is, not as a string.
        text = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str, ensure_ascii=False)
    except ValueError:  # a whole number longer than Python prints
        text = "a number too long to show"
    except RecursionError:
        text = f"an {json_kind(value)} nested too deeply to show"
    text = printable(text)
    return text if len(text) <= DESCRIBED_LENGTH else text[: DESCRIBED_LENGTH - 3] + "..."


def _exact_number(value: Any) -> Decimal:
    """A JSON number or a numeric string as the exact Decimal it says; FieldError names what is wrong.
    Never rounds, never reads a binary float's error, never converts to int (which may hang or refuse)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        raise FieldError(f"must be a number or a numeric string, got {describe(value)}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    text = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, str) and not NUMBER.fullmatch(text):
        raise FieldError(f"must be a number, got {describe(value)}")
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal holds
        raise FieldError(f"is out of range: {describe(value)}") from None


def parse_decimal(
    value: Any, *, digits: int, places: int, minimum: Decimal | None = None, maximum: Decimal | None = None
) -> Decimal:
    """A number that fits a DecimalField(max_digits=digits, decimal_places=places), never rounded."""
    number = _exact_number(value)
    if not number.is_finite():
        raise FieldError(f"must be a finite number, got {describe(value)}")
    if not number.is_zero() and number.adjusted() >= digits - places:
        raise FieldError(f"is too large: {describe(value)}")
    unit = Decimal(1).scaleb(-places)
    exact = number.quantize(unit, context=Context(prec=digits + places + 2))
    if exact != number:
        raise FieldError(f"has more than {places} decimal places: {describe(value)}")
    if minimum is not None and exact < minimum:
        raise FieldError(f"must be at least {minimum}, got {describe(value)}")
    if maximum is not None and exact > maximum:
        raise FieldError(f"must be at most {maximum}, got {describe(value)}")
    return exact


def parse_integer(value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        try:
            decimal = _exact_number(value)
        except FieldError:
            raise FieldError(f"must be a whole number, got {describe(value)}") from None
        if not decimal.is_finite():
            raise FieldError(f"must be a whole number, got {describe(value)}")
        # The size first: int(Decimal("1e999999999")) would build a billion-digit number.
        if not decimal.is_zero() and decimal.adjusted() >= MAX_WHOLE_DIGITS:
            raise FieldError(f"is too large: {describe(value)}")
        if decimal != decimal.to_integral_value():
            raise FieldError(f"must be a whole number, got {describe(value)}")
        number = int(decimal)
    if abs(number) >= 2**63:
        raise FieldError(f"is too large: {describe(value)}")
    if minimum is not None and number < minimum:
        raise FieldError(f"must be at least {minimum}, got {describe(value)}")
    if maximum is not None and number > maximum:
        raise FieldError(f"must be at most {maximum}, got {describe(value)}")
    return number


def parse_text(value: Any, *, max_length: int, required: bool = False) -> str:
    """A name, symbol or other identifier to store, stripped: NUL, lone surrogates and other control
    characters are refused (see :func:`console.text.forbidden_character`)."""
    if not isinstance(value, str):
        raise FieldError(f"must be a string, got {describe(value)}")
    text = value.strip()
    char = edge_forbidden(value)  # named even where nothing else is (a lone bidi override, "\x1f")
    if char is not None:
        raise FieldError(f"contains {character_name(char)}: {describe(value)}")
    if blank(text):  # only invisible characters: nothing said
        text = ""
    if required and not text:
        raise FieldError("must not be empty")
    if len(text) > max_length:
        raise FieldError(f"is longer than {max_length} characters")
    return text


def parse_choice(value: Any, *, choices: type) -> str:
    if value not in choices.values:
        allowed = ", ".join(repr(choice) for choice in choices.values)
        raise FieldError(f"must be one of {allowed}, got {describe(value)}")
    return value


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError(f"must be true or false, got {describe(value)}")
    return value


def parse_currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value):
        raise FieldError(f"must be a 3-letter upper-case currency code, got {describe(value)}")
    return value


def _iso_text(value: Any) -> str | None:
    """The text of an ISO 8601 value, or None when it cannot be one. Plain ASCII is checked first:
    fromisoformat reads "2026-12-23T11:00:00\\x00" as if the text ended at the NUL."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text.isascii() and text.isprintable() else None


def parse_datetime(value: Any) -> dt.datetime:
    refusal = f"must be an ISO 8601 date and time, got {describe(value)}"
    text = _iso_text(value)
    if text is None:
        raise FieldError(refusal)
    if date_alone(text):  # Python reads it as a midnight the file did not say
        raise FieldError(f"must be a date and time, got a date alone: {describe(value)}")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(refusal) from None
    # A time without an offset is Hong Kong time.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=HONG_KONG)
    if has_impossible_offset(moment):
        raise FieldError(
            f"has an offset from UTC no place keeps (at most 14 hours either way, in whole minutes): {describe(value)}"
        )
    if not has_utc_and_local_time(moment):
        raise FieldError(f"is out of range: {describe(value)}")
    return moment.astimezone(dt.UTC)


def has_utc_and_local_time(moment: dt.datetime) -> bool:
    """Whether an aware time can be stored (in UTC) and shown (in Hong Kong time): at the ends of the
    calendar it cannot, e.g. 0001-01-01T00:00+08:00 or 9999-12-31T23:00Z."""
    try:
        moment.astimezone(dt.UTC)
        moment.astimezone(HONG_KONG)
    except OverflowError:
        return False
    return True


def parse_date(value: Any) -> dt.date:
    refusal = f"must be a date YYYY-MM-DD, got {describe(value)}"
    text = _iso_text(value)
    if text is None:
        raise FieldError(refusal)
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise FieldError(refusal) from None
    if not times.is_possible_date(date):
        raise FieldError(f"must be from {m.EARLIEST.date()} to before {m.END.date()}, got {describe(value)}")
    return date


def parse_phone(value: Any) -> str:
    text = parse_text(value, max_length=32)
    if text and m.not_a_phone(text):
        raise FieldError(f"is not a phone number ({m.PHONE_RULE}): {describe(value)}")
    return text


def parse_email(value: Any) -> str:
    text = parse_text(value, max_length=254)
    if text and (char := hidden_in_address(text)):
        raise FieldError(f"is not an email address: it holds U+{ord(char):04X}, which none may: {describe(value)}")
    if text:
        try:
            validate_email(text)
        except ValidationError:
            raise FieldError(f"is not an email address: {describe(value)}") from None
    return text


def _amount(minimum: Decimal | None = None) -> Callable[[Any], Decimal]:
    lowest = -m.AMOUNT_LIMIT if minimum is None else max(minimum, -m.AMOUNT_LIMIT)
    return lambda value: parse_decimal(
        value, digits=m.AMOUNT_DIGITS, places=m.AMOUNT_PLACES, minimum=lowest, maximum=m.AMOUNT_LIMIT
    )


def _rate(value: Any) -> Decimal:
    return parse_decimal(value, digits=m.RATE_DIGITS, places=m.RATE_PLACES, minimum=Decimal(0), maximum=Decimal(1))


def _price(value: Any) -> Decimal:
    return parse_decimal(value, digits=m.PRICE_DIGITS, places=m.PRICE_PLACES, minimum=Decimal(0), maximum=m.PRICE_LIMIT)


ZERO = Decimal(0)

DESK_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": lambda value: parse_text(value, max_length=200),
}
INSTRUMENT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": lambda value: parse_text(value, max_length=200),
    "kind": lambda value: parse_choice(value, choices=m.InstrumentKind),
    "currency": parse_currency,
    "lot_size": lambda value: parse_integer(value, minimum=1, maximum=MAX_INT32),
    "multiplier": lambda value: parse_integer(value, minimum=1, maximum=MAX_INT32),
    "status": lambda value: parse_choice(value, choices=m.InstrumentStatus),
    "price": _price,
    "im_rate": _rate,
    "mm_rate": _rate,
    "fm_rate": _rate,
    "short_im_rate": _rate,
    "short_mm_rate": _rate,
    "short_fm_rate": _rate,
    "option_type": lambda value: parse_choice(value, choices=m.OptionType),
    "shortable": parse_bool,
    "strike": _price,
    "expiry": parse_date,
}
ACCOUNT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": lambda value: parse_text(value, max_length=200),
    "kind": lambda value: parse_choice(value, choices=m.AccountKind),
    "credit_limit": _amount(minimum=ZERO),
    "accrued_interest": _amount(minimum=ZERO),
    "debt_margin": _amount(minimum=ZERO),
    "trading_limit": _amount(minimum=ZERO),
    "email": parse_email,
    "phone": parse_phone,
    "language": lambda value: parse_choice(value, choices=m.Language),
}


@dataclass
class DeskRecord:
    code: str
    values: dict[str, Any]
    path: str = ""


@dataclass
class InstrumentRecord:
    path: str
    symbol: str
    values: dict[str, Any]
    underlying: str | None = None  # symbol, when given


@dataclass
class PositionRecord:
    path: str
    symbol: str
    quantity: int


@dataclass
class AccountRecord:
    path: str
    account_no: str
    values: dict[str, Any]
    desk: str | None = None  # desk code, when given; "" clears it
    cash: dict[str, tuple[str, Decimal]] | None = None  # currency -> (path, amount); None: not given
    positions: list[PositionRecord] | None = None


@dataclass
class LendingRecord:
    path: str
    symbol: str
    lendable: int


@dataclass
class Book:
    as_of: dt.datetime | None = None
    fx_rates: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    desks: list[DeskRecord] = field(default_factory=list)
    instruments: list[InstrumentRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)
    lending: list[LendingRecord] = field(default_factory=list)


class _Errors:
    def __init__(self):
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{path}: {message}")
        if len(self.messages) >= MAX_ERRORS:  # the file is not read further
            raise BookInvalid([*self.messages, f"{STOPPED} {MAX_ERRORS} errors)"])


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= MAX_INT_DIGITS else Decimal(text)


def _parse_float(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent past what Decimal holds (10**18): no field could take it
        raise JsonMalformed(f"not valid JSON: the number {describe(text)} is out of range") from None


class DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    """An object's keys once each: ``{"USD": "7.8", "USD": "1"}`` is refused, not read as its last."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


def load_json(text: str | bytes) -> Any:
    """Decode JSON exactly, the one way the project reads it (book files and ticks): numbers as Decimal,
    never binary floats; whole numbers of any length without error; too deep nesting refused.
    Bytes must be UTF-8 (a UTF-8 byte order mark is skipped): JSON's own reader would also take UTF-16
    or UTF-32, and read a stray byte as the start of one. Raises :class:`JsonMalformed` saying why."""
    try:
        if isinstance(text, bytes | bytearray):
            # A surrogate encoded in the bytes is read, so that the field holding it is named.
            text = bytes(text).decode("utf-8-sig", "surrogatepass")
        return json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=Decimal,
            object_pairs_hook=_object_without_duplicates,
        )
    except DuplicateKey as error:
        raise JsonMalformed(f"ambiguous: the key {describe(error.args[0])} appears twice in one object") from None
    except json.JSONDecodeError as error:
        raise JsonMalformed(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise JsonMalformed(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    except RecursionError:
        raise JsonMalformed("not valid JSON: nested too deeply") from None


def load_book_json(text: str | bytes) -> Any:
    try:
        return load_json(text)
    except JsonMalformed as error:
        raise BookInvalid([str(error)]) from None


def _at(path: str, key: str) -> str:
    """The path of ``key`` in ``path``. A key that would not print plainly is quoted: ``cash["\\u0000"]``."""
    if 0 < len(key) <= DESCRIBED_LENGTH and key.isprintable():
        return f"{path}.{key}" if path else key
    return f"{path}[{describe(key)}]"


def _object(value: Any, path: str, errors: _Errors) -> dict | None:
    if not isinstance(value, dict):
        errors.add(path, f"must be an object, got {describe(value)}")
        return None
    return value


def _list(value: Any, path: str, errors: _Errors) -> list:
    if not isinstance(value, list):
        errors.add(path, f"must be a list, got {describe(value)}")
        return []
    return value


def _fields(record: dict, path: str, specs: dict[str, Callable], known: set[str], errors: _Errors) -> dict[str, Any]:
    values = {}
    for key, raw in record.items():
        if key in specs:
            try:
                values[key] = specs[key](raw)
            except FieldError as error:
                errors.add(_at(path, key), str(error))
        elif key not in known:
            errors.add(_at(path, key), "unknown key")
    return values


def _twice(kind: str, key: str, first: str) -> str:
    """The error of a key already in the file, or one differing from it only in capitals (M1 and m1
    cannot be told apart on the desk's screen, so the database holds at most one of them)."""
    if key == first:
        return f"{kind} {key!r} appears twice"
    return f"{kind} {key!r} differs from {first!r}, earlier in the file, only in capitals"


def _identifier(record: dict, key: str, path: str, max_length: int, errors: _Errors) -> str | None:
    """A desk's code, a symbol or an account number: text, and a key a person can read and type."""
    if key not in record:
        errors.add(f"{path}.{key}", "is required")
        return None
    try:
        return parse_key(record[key], max_length=max_length)
    except FieldError as error:
        errors.add(f"{path}.{key}", str(error))
        return None


def parse_key(value: Any, *, max_length: int) -> str:
    """A key (see :func:`console.text.key_problem`), stripped and not empty."""
    text = parse_text(value, max_length=max_length, required=True)
    if problem := key_problem(text):
        what, detail = problem
        raise FieldError(f"{KEY_PROBLEMS[what].format(detail)}: {describe(value)}")
    return text


def parse_book(data: Any) -> Book:
    """Check a decoded book file and return it as records; raise :class:`BookInvalid` listing every problem."""
    errors = _Errors()
    book = Book()
    top = _object(data, "book", errors)
    if top is None:
        raise BookInvalid(errors.messages)
    for key in top:
        if key not in {"as_of", "fx_rates", "desks", "instruments", "accounts", "lending"}:
            errors.add(_at("", key), "unknown key")

    if "as_of" in top:
        try:
            book.as_of = parse_datetime(top["as_of"])
        except FieldError as error:
            errors.add("as_of", str(error))

    fx = _object(top.get("fx_rates", {}), "fx_rates", errors) or {}
    for currency, raw in fx.items():
        path = _at("fx_rates", currency)
        try:
            parse_currency(currency)
            rate = parse_decimal(raw, digits=m.FX_DIGITS, places=m.FX_PLACES)
            if rate <= 0:
                raise FieldError(f"must be a positive number, got {describe(raw)}")
            if currency == m.HKD and rate != 1:
                raise FieldError("HKD is always 1")
        except FieldError as error:
            errors.add(path, str(error))
            continue
        book.fx_rates[currency] = (path, rate)

    seen: dict[str, str] = {}
    for index, raw in enumerate(_list(top.get("desks", []), "desks", errors)):
        path = f"desks[{index}]"
        record = _object(raw, path, errors)
        if record is None:
            continue
        code = _identifier(record, "code", path, 32, errors)
        values = _fields(record, path, DESK_FIELDS, {"code"}, errors)
        if code is None:
            continue
        if (first := seen.get(fold(code))) is not None:
            errors.add(f"{path}.code", _twice("desk", code, first))
        seen.setdefault(fold(code), code)
        book.desks.append(DeskRecord(code, values, path))

    seen: dict[str, str] = {}
    for index, raw in enumerate(_list(top.get("instruments", []), "instruments", errors)):
        path = f"instruments[{index}]"
        record = _object(raw, path, errors)
        if record is None:
            continue
        symbol = _identifier(record, "symbol", path, 32, errors)
        values = _fields(record, path, INSTRUMENT_FIELDS, {"symbol", "underlying"}, errors)
        underlying = None
        if "underlying" in record and record["underlying"] is not None:
            try:
                underlying = parse_text(record["underlying"], max_length=32, required=True)
            except FieldError as error:
                errors.add(f"{path}.underlying", str(error))
            if underlying and underlying == symbol:
                errors.add(f"{path}.underlying", "an instrument cannot be its own underlying")
        if symbol is None:
            continue
        if (first := seen.get(fold(symbol))) is not None:
            errors.add(f"{path}.symbol", _twice("instrument", symbol, first))
        seen.setdefault(fold(symbol), symbol)
        book.instruments.append(InstrumentRecord(path, symbol, values, underlying))

    seen = {}
    for index, raw in enumerate(_list(top.get("accounts", []), "accounts", errors)):
        path = f"accounts[{index}]"
        record = _object(raw, path, errors)
        if record is None:
            continue
        account_no = _identifier(record, "account_no", path, 32, errors)
        values = _fields(record, path, ACCOUNT_FIELDS, {"account_no", "desk", "cash", "positions"}, errors)
        account = AccountRecord(path, account_no or "", values)
        if "desk" in record:
            desk = record["desk"]
            if desk is None:
                account.desk = ""
            else:
                try:
                    account.desk = parse_text(desk, max_length=32)
                except FieldError as error:
                    errors.add(f"{path}.desk", str(error))
        if "cash" in record:
            cash = _object(record["cash"], f"{path}.cash", errors)
            if cash is not None:
                account.cash = {}
                for currency, amount in cash.items():
                    cash_path = _at(f"{path}.cash", currency)
                    try:
                        parse_currency(currency)
                        account.cash[currency] = (cash_path, _amount()(amount))
                    except FieldError as error:
                        errors.add(cash_path, str(error))
        if "positions" in record:
            account.positions = []
            symbols: set[str] = set()
            for position_index, raw_position in enumerate(_list(record["positions"], f"{path}.positions", errors)):
                position_path = f"{path}.positions[{position_index}]"
                position = _object(raw_position, position_path, errors)
                if position is None:
                    continue
                for key in position:
                    if key not in {"symbol", "quantity"}:
                        errors.add(_at(position_path, key), "unknown key")
                symbol = _identifier(position, "symbol", position_path, 32, errors)
                if "quantity" not in position:
                    errors.add(f"{position_path}.quantity", "is required")
                    continue
                try:
                    quantity = parse_integer(position["quantity"])
                except FieldError as error:
                    errors.add(f"{position_path}.quantity", str(error))
                    continue
                if symbol is None:
                    continue
                if symbol in symbols:
                    errors.add(f"{position_path}.symbol", f"{symbol!r} appears twice in this account")
                symbols.add(symbol)
                account.positions.append(PositionRecord(position_path, symbol, quantity))
        if account_no is None:
            continue
        if (first := seen.get(fold(account_no))) is not None:
            errors.add(f"{path}.account_no", _twice("account", account_no, first))
        seen.setdefault(fold(account_no), account_no)
        book.accounts.append(account)

    seen = set()
    for index, raw in enumerate(_list(top.get("lending", []), "lending", errors)):
        path = f"lending[{index}]"
        record = _object(raw, path, errors)
        if record is None:
            continue
        for key in record:
            if key not in {"symbol", "lendable"}:
                errors.add(_at(path, key), "unknown key")
        symbol = _identifier(record, "symbol", path, 32, errors)
        if "lendable" not in record:
            errors.add(f"{path}.lendable", "is required")
            continue
        try:
            lendable = parse_integer(record["lendable"], minimum=0)
        except FieldError as error:
            errors.add(f"{path}.lendable", str(error))
            continue
        if symbol is None:
            continue
        if symbol in seen:
            errors.add(f"{path}.symbol", f"{symbol!r} appears twice")
        seen.add(symbol)
        book.lending.append(LendingRecord(path, symbol, lendable))

    if errors.messages:
        raise BookInvalid(errors.messages)
    return book
