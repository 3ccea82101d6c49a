"""Querysets of the risk app's desk-owned records (see :mod:`console.querysets`)."""

from console.querysets import DeskScopedQuerySet


class MarginCallQuerySet(DeskScopedQuerySet):
    desk_lookup = "desk"  # kept in step with the account's desk (see MarginCall.desk)


class AccountRiskQuerySet(DeskScopedQuerySet):
    desk_lookup = "account__desk"
