import pytest

RECOVERY_BOOK = {
    "as_of": "2026-12-23T10:00:00+08:00",
    "desks": [{"code": "HK1", "name": "Desk 1"}, {"code": "HK2", "name": "Desk 2"}],
    "instruments": [
        {"symbol": "700.HK", "lot_size": 100, "price": "380", "im_rate": "0.5", "mm_rate": "0.4"},
        {"symbol": "X.HK", "lot_size": 100, "price": "10", "shortable": False},
        {
            "symbol": "TCH-C400", "kind": "option", "multiplier": 100, "price": "5", "underlying": "700.HK",
            "option_type": "call", "strike": "400", "expiry": "2027-03-30",
        },
    ],
    "accounts": [
        {"account_no": "A1", "desk": "HK1", "cash": {"HKD": "900000"},
         "positions": [{"symbol": "TCH-C400", "quantity": -3}, {"symbol": "700.HK", "quantity": 100}]},
        {"account_no": "C1", "kind": "cash", "desk": "HK1", "cash": {"HKD": "900000"},
         "positions": [{"symbol": "700.HK", "quantity": -200}]},
        {"account_no": "M1", "desk": "HK2", "cash": {"HKD": "900000"},
         "positions": [{"symbol": "X.HK", "quantity": -300}, {"symbol": "700.HK", "quantity": -400}]},
    ],
    "lending": [{"symbol": "700.HK", "lendable": 300}],
}  # fmt: skip


@pytest.fixture
def recovery_book(import_book):
    import_book(RECOVERY_BOOK)
