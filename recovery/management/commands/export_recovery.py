import json

from django.core.management.base import BaseCommand

from recovery import services


class Command(BaseCommand):
    help = (
        "Print what the recovery rules give on the book now, as JSON: covered-call shortfalls, short stock "
        "to buy back with the reason, and the lending pools."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(services.as_json(services.book_scan()), ensure_ascii=False, indent=1))
