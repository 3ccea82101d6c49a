"""A realistic demo book: HK and US stocks, options, shorts, several desks, and enough stressed
accounts that every call type appears. Built as a book file and loaded through ``import_book``."""

from __future__ import annotations

import random
from decimal import Decimal

from .calculations import AccountTerms, InstrumentTerms, compute_figures

HK_STOCKS = [
    # symbol, name, lot size, price
    ("700.HK", "Tencent Holdings", 100, "380.20"),
    ("9988.HK", "Alibaba Group", 100, "82.45"),
    ("5.HK", "HSBC Holdings", 400, "68.10"),
    ("1299.HK", "AIA Group", 200, "61.35"),
    ("941.HK", "China Mobile", 500, "72.80"),
    ("3690.HK", "Meituan", 100, "118.60"),
    ("1810.HK", "Xiaomi Corporation", 200, "16.92"),
    ("388.HK", "Hong Kong Exchanges", 100, "262.40"),
    ("2318.HK", "Ping An Insurance", 500, "43.55"),
    ("1211.HK", "BYD Company", 500, "241.00"),
    ("2628.HK", "China Life Insurance", 1000, "14.38"),
    ("11.HK", "Hang Seng Bank", 100, "96.75"),
    ("16.HK", "Sun Hung Kai Properties", 500, "74.20"),
    ("1.HK", "CK Hutchison", 500, "40.15"),
    ("2.HK", "CLP Holdings", 500, "65.30"),
    ("3.HK", "Hong Kong and China Gas", 1000, "5.92"),
    ("27.HK", "Galaxy Entertainment", 1000, "34.85"),
    ("1928.HK", "Sands China", 400, "19.46"),
    ("2020.HK", "ANTA Sports", 200, "78.90"),
    ("9618.HK", "JD.com", 50, "112.30"),
    ("9999.HK", "NetEase", 100, "139.80"),
    ("1024.HK", "Kuaishou Technology", 100, "45.60"),
    ("2382.HK", "Sunny Optical", 100, "52.15"),
    ("883.HK", "CNOOC", 1000, "17.84"),
    ("857.HK", "PetroChina", 2000, "5.71"),
    ("939.HK", "China Construction Bank", 1000, "5.63"),
    ("1398.HK", "ICBC", 1000, "4.48"),
    ("3988.HK", "Bank of China", 1000, "3.41"),
    ("6862.HK", "Haidilao", 1000, "14.02"),
    ("2269.HK", "WuXi Biologics", 500, "15.88"),
]
ILLIQUID_HK = [
    ("8176.HK", "Super Bright Holdings", 2000, "0.128", "suspended"),
    ("1856.HK", "Ernest Borel", 1000, "0.395", "long_suspended"),
    ("3886.HK", "Town Health International", 4000, "0.071", "delisted"),
    ("8093.HK", "Shi Shi Services", 10000, "0.018", "delisted"),
]
US_STOCKS = [
    ("AAPL", "Apple Inc.", "228.50"),
    ("MSFT", "Microsoft Corp.", "415.20"),
    ("NVDA", "NVIDIA Corp.", "131.75"),
    ("TSLA", "Tesla Inc.", "248.90"),
    ("AMZN", "Amazon.com Inc.", "186.30"),
    ("META", "Meta Platforms", "562.10"),
    ("GOOGL", "Alphabet Inc. A", "171.40"),
    ("BABA", "Alibaba Group ADR", "84.60"),
]
HK_OPTIONS = [
    # symbol, name, underlying, type, strike, price, contract size
    ("TCH270330C400", "Tencent Mar27 400 C", "700.HK", "call", "400", "12.50", 100),
    ("TCH270330P360", "Tencent Mar27 360 P", "700.HK", "put", "360", "9.80", 100),
    ("ALB270330C90", "Alibaba Mar27 90 C", "9988.HK", "call", "90", "3.15", 500),
    ("HKB270330C280", "HKEX Mar27 280 C", "388.HK", "call", "280", "8.40", 100),
]
US_OPTIONS = [
    ("AAPL270319C240", "AAPL Mar27 240 C", "AAPL", "call", "240", "7.35", 100),
    ("NVDA270319C140", "NVDA Mar27 140 C", "NVDA", "call", "140", "6.10", 100),
]
SURNAMES = [
    "Chan",
    "Wong",
    "Lee",
    "Cheung",
    "Lau",
    "Ng",
    "Ho",
    "Leung",
    "Lam",
    "Tsang",
    "Chow",
    "Yip",
    "Kwok",
    "Tang",
    "Lai",
    "Mak",
    "Fung",
    "Siu",
    "Cheng",
    "Yeung",
    "Choi",
    "Poon",
    "Tam",
    "Law",
    "Hui",
]
GIVEN = [
    "Tai Man",
    "Siu Ming",
    "Ka Yan",
    "Wing Sze",
    "Chi Keung",
    "Mei Ling",
    "Ka Ho",
    "Hoi Yan",
    "Kwok Wai",
    "Pui Shan",
    "Chun Kit",
    "Suet Ying",
    "Wai Lun",
    "Hiu Tung",
    "Man Kit",
    "Yuk Ling",
    "Sze Wing",
    "Tsz Hin",
]
DESKS = [
    ("HK1", "Central desk"),
    ("HK2", "Causeway Bay desk"),
    ("KLN", "Kowloon desk"),
    ("VIP", "Private clients"),
    ("INTL", "International desk"),
]

# (share of accounts, equity as a multiple of maintenance margin). Below 1 is a margin call; well
# below it (under the force-liquidation margin) a force call.
STRESS = [
    (0.70, (1.6, 5.0)),
    (0.13, (0.90, 0.995)),
    (0.09, (0.20, 0.70)),
]


def rates_for(price: Decimal, rng: random.Random) -> dict:
    mm = Decimal(rng.choice(["0.15", "0.20", "0.25", "0.30", "0.40", "0.50"]))
    if price < 1:
        mm = Decimal("0.80")
    im = min(Decimal(1), mm + Decimal("0.05"))
    fm = mm - Decimal("0.05")
    return {
        "im_rate": str(im),
        "mm_rate": str(mm),
        "fm_rate": str(fm),
        "short_im_rate": str(min(Decimal(1), im + Decimal("0.20"))),
        "short_mm_rate": str(min(Decimal(1), mm + Decimal("0.20"))),
        "short_fm_rate": str(min(Decimal(1), fm + Decimal("0.20"))),
    }


def demo_book(accounts: int = 2000, seed: int = 2026) -> dict:
    rng = random.Random(seed)
    fx = {"USD": Decimal("7.8"), "CNY": Decimal("1.08")}
    instruments = []
    for symbol, name, lot, price in HK_STOCKS:
        instruments.append(
            {"symbol": symbol, "name": name, "lot_size": lot, "price": price, **rates_for(Decimal(price), rng)}
        )
    for symbol, name, lot, price, status in ILLIQUID_HK:
        instruments.append(
            {
                "symbol": symbol,
                "name": name,
                "lot_size": lot,
                "price": price,
                "status": status,
                **rates_for(Decimal(price), rng),
            }
        )
    for symbol, name, price in US_STOCKS:
        instruments.append(
            {
                "symbol": symbol,
                "name": name,
                "currency": "USD",
                "lot_size": 1,
                "price": price,
                **rates_for(Decimal(price), rng),
            }
        )
    for options, currency in ((HK_OPTIONS, "HKD"), (US_OPTIONS, "USD")):
        for symbol, name, underlying, option_type, strike, price, size in options:
            instruments.append(
                {
                    "symbol": symbol,
                    "name": name,
                    "kind": "option",
                    "currency": currency,
                    "lot_size": 1,
                    "multiplier": size,
                    "price": price,
                    "underlying": underlying,
                    "option_type": option_type,
                    "strike": strike,
                    "expiry": "2027-03-30" if currency == "HKD" else "2027-03-19",
                    "im_rate": "1",
                    "mm_rate": "1",
                    "fm_rate": "1",
                }
            )
    terms = {
        item["symbol"]: InstrumentTerms(
            price=Decimal(item["price"]),
            currency=item.get("currency", "HKD"),
            multiplier=item.get("multiplier", 1),
            status=item.get("status", "normal"),
            im_rate=Decimal(item["im_rate"]),
            mm_rate=Decimal(item["mm_rate"]),
            fm_rate=Decimal(item["fm_rate"]),
            short_im_rate=Decimal(item.get("short_im_rate", item["im_rate"])),
            short_mm_rate=Decimal(item.get("short_mm_rate", item["mm_rate"])),
            short_fm_rate=Decimal(item.get("short_fm_rate", item["fm_rate"])),
        )
        for item in instruments
    }
    lots = {item["symbol"]: item["lot_size"] for item in instruments}
    liquid_hk = [s[0] for s in HK_STOCKS]
    illiquid = [s[0] for s in ILLIQUID_HK]
    us = [s[0] for s in US_STOCKS]
    options = [o[0] for o in HK_OPTIONS + US_OPTIONS]
    # One stock that may not be sold short (not a designated security): its shorts must be bought back.
    not_shortable = liquid_hk[-1]
    for item in instruments:
        if item["symbol"] == not_shortable:
            item["shortable"] = False

    book_accounts = []
    for n in range(accounts):
        roll = rng.random()
        kind = "margin" if roll < 0.80 else "intraday" if roll < 0.95 else "cash"
        prefix = {"margin": "M", "intraday": "I", "cash": "C"}[kind]
        desk = DESKS[n % len(DESKS)][0]
        language = rng.choice(["en", "zh-hant", "zh-hant", "zh-hans"])
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
        positions: dict[str, int] = {}
        debit = kind != "cash" and rng.random() < 0.015
        if not debit:
            for symbol in rng.sample(liquid_hk, rng.randint(1, 5)):
                positions[symbol] = lots[symbol] * rng.randint(1, 40)
            if rng.random() < 0.25:
                symbol = rng.choice(us)
                positions[symbol] = rng.randint(5, 300)
            if rng.random() < 0.06:
                symbol = rng.choice(illiquid)
                positions[symbol] = lots[symbol] * rng.randint(5, 50)
            if kind == "margin" and rng.random() < 0.08:
                symbol = rng.choice([s for s in liquid_hk if s not in positions])
                if rng.random() < 0.15 and not_shortable not in positions:
                    symbol = not_shortable
                positions[symbol] = -lots[symbol] * rng.randint(1, 10)
            if kind == "cash" and rng.random() < 0.10:  # a cash account may not sell short: recovered
                symbol = rng.choice([s for s in liquid_hk if s not in positions])
                positions[symbol] = -lots[symbol] * rng.randint(1, 3)
            if kind == "margin" and rng.random() < 0.10:
                symbol = rng.choice(options)
                positions[symbol] = rng.choice([-1, 1]) * rng.randint(1, 10)
        holdings = [(terms[symbol], quantity) for symbol, quantity in positions.items()]
        base = compute_figures(account=AccountTerms(), cash={}, positions=holdings, fx=fx)
        usd_cash = Decimal(rng.randint(0, 20000)) if rng.random() < 0.3 else Decimal(0)
        accrued_interest = Decimal(rng.randint(0, 3000))
        credit_limit = Decimal(rng.choice([200_000, 500_000, 1_000_000, 3_000_000]))
        if debit:
            hkd_cash = -Decimal(rng.randint(2_000, 80_000))
        elif kind == "cash":
            hkd_cash = Decimal(rng.randint(0, 500_000))
        else:
            pick, target, over_credit = rng.random(), None, False
            for share, (low, high) in STRESS:
                if pick < share:
                    target = Decimal(str(round(rng.uniform(low, high), 3)))
                    break
                pick -= share
            if target is None:  # the rest: healthy margin but borrowing past the credit limit
                target, over_credit = Decimal(str(round(rng.uniform(2.5, 4.0), 3))), True
            equity = base.mm * target + accrued_interest
            hkd_cash = (equity - base.long_mv - base.short_mv - usd_cash * fx["USD"]).quantize(Decimal(1))
            loan = -(hkd_cash + usd_cash * fx["USD"])
            if over_credit and loan > 0:
                credit_limit = (loan * Decimal("0.8")).quantize(Decimal(1000))
            elif loan > credit_limit:
                credit_limit = (loan * Decimal("1.25")).quantize(Decimal(1000))
        book_accounts.append(
            {
                "account_no": f"{prefix}{100001 + n}",
                "name": name,
                "kind": kind,
                "desk": desk,
                "credit_limit": str(credit_limit),
                "accrued_interest": str(accrued_interest),
                "email": f"{name.lower().replace(' ', '.')}.{n}@example.com",
                "phone": f"+852{rng.randint(51000000, 99999999)}",
                "language": language,
                "cash": {"HKD": str(hkd_cash), **({"USD": str(usd_cash)} if usd_cash else {})},
                "positions": [{"symbol": s, "quantity": q} for s, q in positions.items()],
            }
        )
    lending = [{"symbol": symbol, "lendable": rng.choice([0, 50_000, 200_000, 1_000_000])} for symbol in liquid_hk[:12]]
    return {
        "fx_rates": {currency: str(rate) for currency, rate in fx.items()},
        "desks": [{"code": code, "name": name} for code, name in DESKS],
        "instruments": instruments,
        "accounts": book_accounts,
        "lending": lending,
    }
