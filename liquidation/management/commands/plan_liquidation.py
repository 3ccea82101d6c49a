import json

from django.core.management.base import BaseCommand, CommandError

from book.models import Account, Instrument, Position
from console import arguments
from liquidation import services
from risk import formatting
from risk.calculations import MissingFxRate, round_figures
from risk.models import AccountRisk


def projected(account: Account, figures) -> dict:
    """The figures as export_risk writes them."""
    figures = round_figures(figures).as_dict()
    row = {"account_no": account.account_no, "kind": account.kind}
    for name in AccountRisk.FIGURE_FIELDS:
        value = figures[name]
        if name == "call_type":
            row[name] = value or None
        elif name == "nav_ratio":
            row[name] = None if value is None else formatting.ratio(value)
        else:
            row[name] = formatting.money(value, grouping=False)
    return row


class Command(BaseCommand):
    help = "Print the liquidation plan of accounts as JSON (places nothing)."

    def add_arguments(self, parser):
        parser.add_argument("account_nos", type=arguments.text, nargs="+", metavar="ACCOUNT_NO")
        arguments.add_several(parser, "--only", metavar="SYMBOL", help="only these stocks")
        parser.add_argument(
            "--buffer",
            type=arguments.percent,
            metavar="PCT",
            help="buffer, percent of the requirement (default: rule set)",
        )
        parser.add_argument(
            "--cost",
            type=arguments.percent,
            metavar="PCT",
            help="expected cost, percent of value traded (default: rule set)",
        )
        parser.add_argument("--target", choices=["mm", "im"], help="requirement to restore (default: rule set)")

    def handle(self, *args, account_nos, only, buffer, cost, target, **options):
        overrides = {
            "buffer": None if buffer is None else buffer / 100,
            "cost": None if cost is None else cost / 100,
            "target": target,
        }
        accounts, missing = Account.objects.named(account_nos)
        if missing:
            raise CommandError(f"unknown account(s): {', '.join(missing)}")
        unknown = sorted(
            set(only or ()) - set(Instrument.objects.filter(symbol__in=only or ()).values_list("symbol", flat=True))
        )
        if unknown:
            raise CommandError(f"unknown symbol(s): {', '.join(unknown)}")
        out = []
        held = set()
        if only:  # an account that holds none of --only gets an empty plan: said, so it is not read as covered
            held = set(
                Position.objects.filter(account__in=list(accounts.values()), instrument__symbol__in=only)
                .exclude(quantity=0)
                .values_list("account_id", flat=True)
            )
        for account_no in account_nos:
            account = accounts[account_no]
            if only and account.pk not in held:
                self.stderr.write(f"{account.account_no} holds none of {', '.join(only)}: its plan has no order")
            try:
                result, _book = services.account_plan(account, only=only, **overrides)
            except MissingFxRate as error:
                raise CommandError(
                    f"{account.account_no}: {error}: nothing can be planned until the rate is added"
                ) from None
            out.append(
                {
                    "account_no": account.account_no,
                    "covers": result.covers,
                    "value": formatting.money(result.value, grouping=False),
                    "orders": [
                        {"symbol": order.symbol, "side": order.side, "quantity": order.quantity}
                        for order in result.orders
                    ],
                    "projected": projected(account, result.figures),
                }
            )
        self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
