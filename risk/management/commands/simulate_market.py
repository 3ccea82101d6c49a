"""Random-walk prices, with occasional shocks, through the same path as ``POST /api/ticks``."""

import math
import random
import signal
import time
from decimal import ROUND_HALF_UP, Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from book import lending, ticks
from book.models import Instrument, InstrumentStatus, LendingAvailability
from console import arguments
from risk import tasks


def tick_size(price: Decimal) -> Decimal:
    """A price step close to HKEX's spread table."""
    for limit, step in ((Decimal("0.25"), "0.001"), (Decimal("10"), "0.01"), (Decimal("100"), "0.05")):
        if price < limit:
            return Decimal(step)
    return Decimal("0.1") if price < 1000 else Decimal("0.5")


def next_price(price: Decimal, anchor: Decimal, rng: random.Random, *, volatility: float, shock: float) -> Decimal:
    """One step: a small random move pulled gently back towards the anchor, plus an optional shock."""
    drift = 0.05 * math.log(float(anchor) / float(price))
    move = math.exp(rng.gauss(0, volatility) + drift + shock)
    raw = Decimal(str(float(price) * move))
    step = tick_size(raw)
    return max(step, (raw / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


class Command(BaseCommand):
    help = "Move prices by a random walk with occasional shocks, so calls open and close live."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=arguments.number(float, 0, 3600),
            default=1.0,
            help="seconds between rounds (default 1)",
        )
        parser.add_argument(
            "--per-round",
            type=arguments.number(int, 1, 10_000),
            default=6,
            help="instruments moved per round (default 6)",
        )
        parser.add_argument(
            "--volatility",
            type=arguments.number(float, 0, 0.2),
            default=0.006,
            help="per-step volatility (default 0.006)",
        )
        parser.add_argument(
            "--shock-chance",
            type=arguments.number(float, 0, 1),
            default=0.04,
            help="chance of a shock per round (0 to 1)",
        )
        parser.add_argument(
            "--rounds",
            type=arguments.number(int, 0, 10**9),
            default=0,
            help="stop after this many rounds (0: run until stopped)",
        )
        parser.add_argument(
            "--seed", type=arguments.number(int, 0, 2**32 - 1), help="random seed, for a repeatable run"
        )

    def handle(self, *args, **options):
        rng = random.Random(options["seed"])
        instruments = list(
            Instrument.objects.filter(status=InstrumentStatus.NORMAL, price__gt=0, positions__isnull=False)
            .distinct()
            .values_list("symbol", "price")
        )
        if not instruments:
            raise CommandError("no priced instrument with holders: load a book first (seed_demo or import_book)")
        anchors = dict(instruments)
        prices = dict(instruments)
        symbols = sorted(prices)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"Moving {len(symbols)} instruments every {options['interval']} s. Ctrl-C to stop.")
        rounds = 0
        try:
            while not stopping and (not options["rounds"] or rounds < options["rounds"]):
                rounds += 1
                chosen = rng.sample(symbols, min(options["per_round"], len(symbols)))
                shocked = rng.random() < options["shock_chance"]
                shock = rng.choice((-1, 1)) * rng.uniform(0.04, 0.09) if shocked else 0.0
                now = timezone.now()
                items = []
                for symbol in chosen:
                    prices[symbol] = next_price(
                        prices[symbol], anchors[symbol], rng, volatility=options["volatility"], shock=shock
                    )
                    items.append({"symbol": symbol, "price": str(prices[symbol]), "time": now.isoformat()})
                result = ticks.apply_and_recompute(items)
                if rounds % 10 == 0:
                    tasks.recompute_pending.delay()  # as beat does in production
                if rounds % 30 == 0:
                    self.move_lending(rng, now)
                if shocked:
                    self.stdout.write(f"{timezone.localtime(now):%H:%M:%S} shock {shock:+.1%} on {', '.join(chosen)}")
                for outcome in result.outcomes:
                    if not outcome.applied:
                        self.stderr.write(f"{outcome.symbol}: {outcome.reason}")
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"Stopped after {rounds} rounds.")

    def move_lending(self, rng: random.Random, now) -> None:
        """Now and then the prime broker can lend more or less of a stock (through the lending API's
        path), so the lending pools and the stock to recover move too."""
        rows = list(LendingAvailability.objects.values_list("instrument__symbol", "lendable"))
        if not rows:
            return
        symbol, lendable = rng.choice(rows)
        changed = max(0, int(max(lendable, 1000) * rng.uniform(0.6, 1.4)) // 100 * 100)
        [outcome] = lending.apply([{"symbol": symbol, "lendable": changed, "time": now.isoformat()}])
        if outcome["status"] == "applied":
            self.stdout.write(f"{timezone.localtime(now):%H:%M:%S} lendable {symbol}: {lendable:,} -> {changed:,}")
