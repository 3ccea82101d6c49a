"""``migrations_match``: what bin/demo asks before migrating its database in var/."""

import pytest
from django.core.management import call_command
from django.db.migrations.recorder import MigrationRecorder


@pytest.mark.django_db
def test_a_database_with_only_this_versions_migrations_matches(capsys):
    call_command("migrations_match")
    assert "match this version" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_database_made_by_an_older_version_does_not_match_and_names_the_strays(capsys):
    MigrationRecorder.Migration.objects.create(app="risk", name="0006_times_and_deadline_moves")

    with pytest.raises(SystemExit) as exit_:
        call_command("migrations_match")

    assert exit_.value.code == 1
    assert "risk.0006_times_and_deadline_moves" in capsys.readouterr().err
