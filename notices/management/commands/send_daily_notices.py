from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from book.book_format import FieldError
from book.feeds import feed_time
from book.times import validate_possible_time
from notices import services


class Command(BaseCommand):
    help = (
        "Run the daily notice job as of a time (what beat runs every minute): one notice per open call "
        "that is not an exception and not past its deadline, once per XHKG trading day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", metavar="ISO8601", help="the job's time, with its offset (default: now)")

    def handle(self, *args, now=None, **options):
        moment = timezone.now()
        if now is not None:
            # A past time replays that day's job; a time ahead would send tomorrow's notices now, and the
            # real job would then find them sent. A date alone is no time (Python would read midnight).
            try:
                moment = feed_time({"--now": now}, "--now")
                validate_possible_time(moment)
            except FieldError as error:
                raise CommandError(str(error)) from None
            except Exception as error:  # ValidationError: outside what the system keeps
                raise CommandError(f"--now {'; '.join(getattr(error, 'messages', [str(error)]))}") from None
        written = services.daily_notices(moment)
        local = timezone.localtime(moment)
        self.stdout.write(
            f"{len(written)} daily notice(s) for {local.date().isoformat()} as of {local.isoformat(timespec='seconds')}"
        )
