from django.core.management.base import BaseCommand
from django.utils import timezone

from recovery import services


class Command(BaseCommand):
    help = "Run the stock-recovery scan now (beat runs it every 15 minutes in XHKG trading)."

    def handle(self, *args, **options):
        scan = services.run_scan()
        at = timezone.localtime(scan.ran_at).isoformat(timespec="seconds")
        self.stdout.write(f"{scan.items} short stock item(s) to recover; scan at {at}")
