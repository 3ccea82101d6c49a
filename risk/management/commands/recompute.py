import time

from django.core.management.base import BaseCommand, CommandError

from book.models import Account
from console import arguments
from risk.services import recompute_accounts


class Command(BaseCommand):
    help = "Recompute and store the figures of every account (or of --account NO, repeatable)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", type=arguments.text, action="append", dest="accounts", metavar="NO", default=[]
        )

    def handle(self, *args, accounts, **options):
        account_ids = None
        if accounts:
            named, unknown = Account.objects.named(accounts)
            if unknown:
                raise CommandError(f"unknown account(s): {', '.join(unknown)}")
            account_ids = [account.pk for account in named.values()]
        started = time.perf_counter()
        result = recompute_accounts(account_ids=account_ids, say_failed=False)  # each said below
        elapsed = time.perf_counter() - started
        for account_no, why in sorted(result.failed.items()):
            self.stderr.write(f"{account_no}: {why}")
        calls = result.calls
        self.stdout.write(
            f"Recomputed {result.accounts} accounts ({result.positions} positions) in {elapsed:.2f} s; "
            f"calls opened {len(calls.opened)}, escalated {len(calls.escalated)}, closed {len(calls.closed)}."
        )
        if result.failed:
            raise CommandError(f"{len(result.failed)} account(s) could not be recomputed.")
