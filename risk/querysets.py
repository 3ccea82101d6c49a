"""Querysets of the risk app's desk-owned records (see :mod:`console.querysets`)."""

from console.querysets import DeskScopedQuerySet


class MarginCallQuerySet(DeskScopedQuerySet):
    desk_lookup = "account__desk"
