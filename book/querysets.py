"""Querysets of the book's desk-owned records (see :mod:`console.querysets`)."""

from django.db.models.functions import Upper

from console.querysets import DeskScopedQuerySet
from console.text import fold, printable


class AccountQuerySet(DeskScopedQuerySet):
    desk_lookup = "desk"

    def named(self, numbers) -> tuple[dict[str, object], list[str]]:
        """The accounts these numbers name, as a person types them: in any capitals (``m100001`` is
        M100001, as the book holds keys). Returns each number found with its account, and the numbers
        that name none, printable and cut short, to say so."""
        numbers = list(dict.fromkeys(numbers))
        # UPPER() folds ASCII letters in every database, and others too in PostgreSQL: both forms are asked.
        forms = {form for number in numbers for form in (fold(number), number.upper())}
        found = {}
        for account in self.annotate(key=Upper("account_no")).filter(key__in=forms):
            found.setdefault(fold(account.account_no), account)
            found.setdefault(account.account_no.upper(), account)
        named = {
            number: account for number in numbers if (account := found.get(fold(number), found.get(number.upper())))
        }
        unknown = [repr(printable(number)[:40]) for number in numbers if number not in named]
        return named, unknown
