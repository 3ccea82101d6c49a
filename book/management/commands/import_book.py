import sys

from django.core.management.base import BaseCommand, CommandError

from book.book_format import BookInvalid
from book.book_import import import_book_text

# A book file larger than this is refused unread (a million positions take about 100 MiB).
MAX_BOOK_BYTES = 512 * 2**20


class Command(BaseCommand):
    help = "Import a book file (JSON, see docs/book-format.md), all or nothing, and recompute what it moved."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the book file, or - for standard input")

    def handle(self, *args, file, **options):
        try:
            if file == "-":
                text = sys.stdin.buffer.read(MAX_BOOK_BYTES + 1)
            else:
                with open(file, "rb") as handle:
                    text = handle.read(MAX_BOOK_BYTES + 1)
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from None
        if len(text) > MAX_BOOK_BYTES:  # a device or a runaway pipe is not read to the end of memory
            raise CommandError(f"{file}: larger than {MAX_BOOK_BYTES // 2**20} MiB; split the book into files")
        try:
            result = import_book_text(text)
        except BookInvalid as invalid:
            for message in invalid.errors:
                self.stderr.write(message)
            more = " at least" if invalid.stopped else ""
            raise CommandError(f"{file}:{more} {invalid.count} error(s); nothing was written.") from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(result.summary())
