import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from book.models import Account, Instrument
from console import arguments, audit
from console.text import printable
from liquidation import services
from liquidation.management.commands.export_orders import order_row
from risk.models import MarginCall


class Command(BaseCommand):
    help = "Place liquidation orders on an account as a user (whose permissions apply); print them as JSON."

    def add_arguments(self, parser):
        parser.add_argument("account_no", type=arguments.text, metavar="ACCOUNT_NO")
        parser.add_argument("--user", type=arguments.text, required=True, metavar="USERNAME")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--plan", action="store_true", help="place the account's liquidation plan")
        what.add_argument(
            "--symbol", type=arguments.text, metavar="SYMBOL", help="one order in this stock (with --quantity)"
        )
        arguments.add_several(parser, "--only", metavar="SYMBOL", help="with --plan: only these stocks")
        parser.add_argument("--quantity", type=arguments.number(int, 1, 10**15), metavar="N")
        parser.add_argument("--key", metavar="IDEMPOTENCY_KEY", help="the same key again places nothing more")

    def handle(self, *args, account_no, user, plan, symbol, only, quantity, key, **options):
        if key is not None and not services.KEY.fullmatch(key):
            raise CommandError("the key must be 1 to 64 letters, digits, _ or -")
        person = get_user_model().objects.filter(username=user, is_active=True).first()
        if person is None:
            raise CommandError(f"no active user {user!r}")
        account = Account.objects.visible_to(person).named([account_no])[0].get(account_no)
        if account is None:
            self.refuse(person, None, account_no, "unknown or other desk's account")
            raise CommandError(f"no account {account_no!r} that {user} may see")
        if only:
            known = set(Instrument.objects.filter(symbol__in=only).values_list("symbol", flat=True))
            if unknown := [symbol for symbol in only if symbol not in known]:
                raise CommandError(f"unknown symbol(s): {', '.join(repr(printable(s)[:40]) for s in unknown)}")
        try:
            if plan:
                if quantity is not None:
                    raise CommandError("--quantity goes with --symbol, not --plan")
                orders = services.place_plan(user=person, account=account, only=only, key=key)
            else:
                if quantity is None:
                    raise CommandError("--symbol needs --quantity")
                if only:
                    raise CommandError("--only goes with --plan")
                orders = services.place(
                    user=person, account=account, wanted=[services.Wanted(symbol, quantity)], key=key
                )
        except services.Refused as refused:
            self.refuse(person, account, account_no, str(refused))
            raise CommandError(str(refused)) from None
        if orders.again:
            self.stderr.write(f"key {key} placed these orders already: nothing more was placed")
        for order in orders:
            order.refresh_from_db()
        self.stdout.write(json.dumps([order_row(order) for order in orders], indent=2, ensure_ascii=False))

    @staticmethod
    def refuse(person, account, account_no: str, why: str) -> None:
        """A refused placement is in the audit log, as the console's are: who, which account (as typed, and
        its open call when it is one), why."""
        open_call = MarginCall.objects.filter(account=account, closed_at__isnull=True).first() if account else None
        audit.record(
            person,
            "liquidate",
            calls=[open_call.pk] if open_call else [],
            detail={"account": account_no[:32], "via": "command"},
            outcome=f"refused: {why}",
        )
