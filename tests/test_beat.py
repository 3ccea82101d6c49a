"""Beat while the task queue is away: said once on the alerts logger, reminded, and said back."""

import logging

import pytest
from celery.beat import ScheduleEntry, SchedulingError
from kombu.exceptions import OperationalError

from margincall.celery import Beat, app


def failing(error):
    """apply_async as Celery's raises it: its own error, raised while handling the transport's."""

    def apply_async(entry, producer=None, advance=True):
        try:
            raise error
        except Exception as raised:
            raise SchedulingError(f"Couldn't apply scheduled task {entry.name}: {raised}") from None

    return apply_async


@pytest.fixture
def beat(tmp_path):
    return Beat(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)


def lines(caplog, name):
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name == name]


def test_the_queue_away_is_said_once_and_back_once(beat, caplog, monkeypatch):
    entry = ScheduleEntry(name="sweep", task="risk.tasks.recompute_pending", app=app)
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(beat, "apply_async", failing(OperationalError("Error 111 connecting")))
    for _ in range(3):
        beat.apply_entry(entry)
    monkeypatch.setattr(beat, "apply_async", lambda entry, producer=None, advance=True: None)
    beat.apply_entry(entry)
    beat.apply_entry(entry)

    said = lines(caplog, "margincall.alerts")
    assert [level for level, _ in said] == ["ERROR", "WARNING"]
    assert "the task queue is away (Error 111 connecting); sweep" in said[0][1]
    assert said[1][1].startswith("beat: the task queue is back; sweep sent (after ")
    assert not any(record.exc_info for record in caplog.records)  # no stack trace


def test_a_long_outage_is_said_again_with_how_long(beat, caplog, monkeypatch):
    entry = ScheduleEntry(name="sweep", task="risk.tasks.recompute_pending", app=app)
    beat.outage.remind_seconds = 0
    monkeypatch.setattr(beat, "apply_async", failing(OperationalError("Error 111 connecting")))
    beat.apply_entry(entry)
    beat.apply_entry(entry)

    said = [message for _, message in lines(caplog, "margincall.alerts")]
    assert len(said) == 2
    assert said[1].startswith("beat: the task queue is away (Error 111 connecting); sweep")
    assert said[1].endswith(" (away for 0 s)")  # again, with how long


def test_another_error_is_reported_as_celery_does_and_not_as_the_queue_away(beat, caplog, monkeypatch):
    entry = ScheduleEntry(name="sweep", task="risk.tasks.recompute_pending", app=app)
    monkeypatch.setattr(beat, "apply_async", failing(TypeError("cannot serialise")))
    beat.apply_entry(entry)

    assert lines(caplog, "margincall.alerts") == []
    [(level, message)] = lines(caplog, "celery.beat")
    assert level == "ERROR"
    assert "cannot serialise" in message
