import sys

from django.core.management.base import BaseCommand, CommandError

from book.book_format import BookInvalid
from book.book_import import import_book_text


class Command(BaseCommand):
    help = "Import a book file (JSON, see docs/book-format.md), all or nothing, and recompute what it moved."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the book file, or - for standard input")

    def handle(self, *args, file, **options):
        try:
            if file == "-":
                text = sys.stdin.buffer.read()
            else:
                with open(file, "rb") as handle:
                    text = handle.read()
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from None
        try:
            result = import_book_text(text)
        except BookInvalid as invalid:
            for message in invalid.errors:
                self.stderr.write(message)
            raise CommandError(f"{file}: {len(invalid.errors)} error(s); nothing was written.") from None
        self.stdout.write(result.summary())
