#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    from django.core.exceptions import ImproperlyConfigured
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except BrokenPipeError:
        # The reader of the output went away (`export_risk | head`): the rest is not wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except (ImproperlyConfigured, OperationalError) as error:
        # A setting that cannot be used, or a database that cannot be reached: one line that names it.
        # Any other database error (a deadlock, a timeout) keeps its traceback.
        if "--traceback" in sys.argv or (isinstance(error, OperationalError) and database_reachable()):
            raise
        what = "the database (DATABASE_URL) cannot be used" if isinstance(error, OperationalError) else "a setting"
        sys.stderr.write(f"{what}: {str(error).strip()}\n")
        sys.exit(1)


def database_reachable() -> bool:
    from django.db import connection

    try:
        connection.close()
        connection.ensure_connection()
    except Exception:
        return False
    return True


if __name__ == "__main__":
    main()
