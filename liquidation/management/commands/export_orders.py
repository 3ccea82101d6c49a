import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from book.models import Account
from console import arguments
from liquidation.models import Order


def order_row(order: Order) -> dict:
    return {
        "id": order.pk,
        "account_no": order.account.account_no,
        "symbol": order.instrument.symbol,
        "side": order.side,
        "quantity": order.quantity,
        "filled_quantity": order.filled_quantity,
        "status": order.status,
        "order_type": order.order_type,
        "limit_price": None if order.limit_price is None else f"{order.limit_price.normalize():f}",
        "source": order.source,
        "created_by": order.created_by.get_username() if order.created_by else None,
        "created_at": timezone.localtime(order.created_at).isoformat(),
    }


class Command(BaseCommand):
    help = "Print liquidation orders as a JSON array, oldest first."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", type=arguments.text, action="append", dest="accounts", metavar="NO", default=[],
            help="only this account's orders (repeatable)",
        )  # fmt: skip

    def handle(self, *args, accounts, **options):
        orders = Order.objects.select_related("account", "instrument", "created_by").order_by("created_at", "pk")
        if accounts:
            named, unknown = Account.objects.named(accounts)
            if unknown:
                raise CommandError(f"unknown account(s): {', '.join(unknown)}")
            orders = orders.filter(account__in=list(named.values()))
        self.stdout.write(json.dumps([order_row(order) for order in orders.iterator()], indent=2, ensure_ascii=False))
