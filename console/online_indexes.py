"""Index builds that let the table's writers go on: on PostgreSQL ``CREATE INDEX CONCURRENTLY`` (and
``DROP INDEX CONCURRENTLY`` back), so a deploy that adds an index to a table of millions of rows does not
hold the book's writes, the ticks' recompute or a trader's action for the length of the build. Such a
migration says ``atomic = False`` (PostgreSQL builds concurrently only outside a transaction); elsewhere
(SQLite, the embedded default) the index is built as Django's own ``AddIndex`` builds it. A build that
failed leaves an invalid index, which running the migration again drops and builds anew."""

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not self._online(app_label, schema_editor, to_state, schema_editor.add_index):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not self._online(app_label, schema_editor, from_state, schema_editor.remove_index):
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def _online(self, app_label, schema_editor, state, change) -> bool:
        """Build (or drop) the index concurrently on PostgreSQL; False elsewhere, for Django's own way."""
        if schema_editor.connection.vendor != "postgresql":
            return False
        if schema_editor.connection.in_atomic_block:
            raise NotSupportedError("An index built online needs a migration with atomic = False.")
        model = state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            if change == schema_editor.add_index:
                self._drop_a_failed_build(schema_editor, model)
            change(model, self.index, concurrently=True)
        return True

    def _drop_a_failed_build(self, schema_editor, model) -> None:
        """A concurrent build that failed (cancelled, timed out, a duplicate key) leaves its index behind,
        invalid: written to, never read, and in the way of building it again. Running the migration
        again drops it first."""
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                [schema_editor.quote_name(self.index.name)],
            )
            found = cursor.fetchone()
        if found and found[0]:
            schema_editor.remove_index(model, self.index, concurrently=True)
