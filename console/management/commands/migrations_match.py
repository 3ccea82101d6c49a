"""``python manage.py migrations_match``: exit 0 when every migration the database has applied is one
this version ships, 1 (naming the strays) when the database was made by another version whose
migrations were since regenerated. ``bin/demo`` asks this before it migrates its own SQLite database in
``var/``, and rebuilds that database when the answer is no."""

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader


class Command(BaseCommand):
    help = "Exit 1 when the database has applied migrations this version does not have (an older version's)."

    def add_arguments(self, parser):
        parser.add_argument("--database", choices=list(connections), default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        loader = MigrationLoader(connections[database], ignore_no_migrations=True)
        strays = sorted(set(loader.applied_migrations) - set(loader.disk_migrations))
        if strays:
            names = ", ".join(f"{app}.{name}" for app, name in strays[:5])
            more = f" and {len(strays) - 5} more" if len(strays) > 5 else ""
            self.stderr.write(f"The database has migrations this version does not have: {names}{more}.")
            raise SystemExit(1)
        self.stdout.write("The database's migrations match this version.")
