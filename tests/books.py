"""Small books for call scenarios."""

# One margin account, one stock: price 100 x 1,000 shares, cash -60,000.
# Equity 40,000; MM 50% = 50,000 -> margin shortfall 10,000 (margin_call). FM 40% = 40,000 -> no force.
# Price 120 -> equity 60,000 = MM 60,000: the call is met. Price 90 -> equity 30,000 < FM 36,000: force_call.


def one_stock_book(
    *,
    as_of="2026-12-23T10:00:00+08:00",
    price="100",
    cash="-60000",
    quantity=1000,
    kind="margin",
    desk="HK1",
    account_no="T1",
):
    return {
        "as_of": as_of,
        "desks": [{"code": "HK1", "name": "Desk 1"}, {"code": "HK2", "name": "Desk 2"}],
        "instruments": [
            {
                "symbol": "S.HK",
                "name": "Stock S",
                "lot_size": 100,
                "price": price,
                "im_rate": "0.6",
                "mm_rate": "0.5",
                "fm_rate": "0.4",
            },
        ],
        "accounts": [
            {
                "account_no": account_no,
                "name": "Test client",
                "kind": kind,
                "desk": desk,
                "credit_limit": "1000000",
                "cash": {"HKD": cash},
                "positions": [{"symbol": "S.HK", "quantity": quantity}],
            },
        ],
    }
