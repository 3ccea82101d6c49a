"""Indexes in a list's own order.

The console's lists sort with empty values last both ways (``console.lists.ordering``), so an index
that serves a list's pages says ``NULLS LAST`` too: PostgreSQL reads a page from an index only where
the index's order is the query's, to the letter. SQLite (the embedded default) takes no ``NULLS LAST``
in an index: it gets the same columns in the same directions without it.
"""

from copy import copy

from django.db import models
from django.db.models.expressions import OrderBy


class ListIndex(models.Index):
    def create_sql(self, model, schema_editor, using="", **kwargs):
        index = self
        if schema_editor.connection.vendor == "sqlite":
            index = copy(self)
            index.expressions = tuple(
                OrderBy(expression.expression, descending=expression.descending)
                if isinstance(expression, OrderBy)
                else expression
                for expression in self.expressions
            )
        return super(ListIndex, index).create_sql(model, schema_editor, using=using, **kwargs)
