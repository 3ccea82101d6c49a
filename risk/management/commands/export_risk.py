import json

from django.core.management.base import BaseCommand, CommandError

from book.models import Account
from console import arguments
from risk.selectors import risk_export_rows
from risk.services import recompute_accounts


class Command(BaseCommand):
    help = "Print every account's stored figures as a JSON array sorted by account number."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", type=arguments.text, action="append", dest="accounts", metavar="NO", default=[]
        )

    def handle(self, *args, accounts, **options):
        queryset = Account.objects.all()
        if accounts:
            named, unknown = Account.objects.named(accounts)
            queryset = queryset.filter(pk__in=[account.pk for account in named.values()])
            if unknown:
                raise CommandError(f"unknown account(s): {', '.join(unknown)}")
        never_computed = list(queryset.filter(risk__isnull=True).values_list("pk", flat=True))
        if never_computed:
            recompute_accounts(account_ids=never_computed)
        self.stdout.write("[")
        first = True
        for row in risk_export_rows(queryset):
            self.stdout.write(("" if first else ",\n") + json.dumps(row, ensure_ascii=False), ending="")
            first = False
        self.stdout.write("\n]" if not first else "]")
