import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from book.models import Account
from console import arguments
from notices.models import Notice


class Command(BaseCommand):
    help = "Print every notice as a JSON array (oldest first), with its deliveries."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", type=arguments.text, action="append", dest="accounts", metavar="NO", default=[]
        )

    def handle(self, *args, accounts, **options):
        notices = Notice.objects.select_related("account").prefetch_related("deliveries").order_by("created_at", "pk")
        if accounts:
            named, unknown = Account.objects.named(accounts)
            if unknown:
                raise CommandError(f"unknown account(s): {', '.join(unknown)}")
            notices = notices.filter(account__in=list(named.values()))
        self.stdout.write("[")
        first = True
        for notice in notices.iterator(chunk_size=2000):
            row = {
                "account_no": notice.account.account_no,
                "call": notice.call_id,
                "kind": notice.kind,
                "day": notice.day.isoformat() if notice.day else None,
                "created_at": timezone.localtime(notice.created_at).isoformat(),
                "deliveries": [
                    {"channel": d.channel, "status": d.status, "error": d.error} for d in notice.deliveries.all()
                ],
            }
            self.stdout.write(("" if first else ",\n") + json.dumps(row, ensure_ascii=False), ending="")
            first = False
        self.stdout.write("\n]" if not first else "]")
