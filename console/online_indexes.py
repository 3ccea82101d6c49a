"""Index builds that let the table's writers go on: on PostgreSQL ``CREATE INDEX CONCURRENTLY`` (and
``DROP INDEX CONCURRENTLY`` back), so a deploy that adds an index to a table of millions of rows does not
hold the book's writes, the ticks' recompute or a trader's action for the length of the build. Such a
migration says ``atomic = False`` (PostgreSQL builds concurrently only outside a transaction); elsewhere
(SQLite, the embedded default) the index is built as Django's own ``AddIndex`` builds it."""

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        self._outside_a_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        self._outside_a_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)

    @staticmethod
    def _outside_a_transaction(schema_editor):
        if schema_editor.connection.in_atomic_block:
            raise NotSupportedError("An index built online needs a migration with atomic = False.")
