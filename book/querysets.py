"""Querysets of the book's desk-owned records (see :mod:`console.querysets`)."""

from console.querysets import DeskScopedQuerySet


class AccountQuerySet(DeskScopedQuerySet):
    desk_lookup = "desk"
