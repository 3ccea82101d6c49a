"""``run_beat``: the beat schedule run in one process, for the embedded default (no worker, no beat)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from console.management.commands.run_beat import interval_of
from liquidation import services
from liquidation.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


def test_a_due_entry_runs_its_task_here(book, trader, exchange, django_capture_on_commit_callbacks):
    from book.models import Account

    account = Account.objects.get(account_no="M100001")
    with django_capture_on_commit_callbacks(execute=True):
        services.place(user=trader, account=account, wanted=[services.Wanted("A.HK", 100)])

    call_command("run_beat", "--only", "simulated-exchange", "--rounds", "1")

    assert Order.objects.get().status == OrderStatus.FILLED  # the simulated exchange's turn ran


def test_an_unknown_entry_is_named():
    with pytest.raises(CommandError, match="no beat entry nope"):
        call_command("run_beat", "--only", "nope", "--rounds", "1")
    with pytest.raises(CommandError, match="no beat entry nope"):  # the second of several entries is read
        call_command("run_beat", "--only", "simulated-exchange", "nope", "--rounds", "1")


def test_only_intervals_run_in_process():
    from celery.schedules import crontab

    assert interval_of("a", 60.0) == 60.0
    assert interval_of("b", timedelta(minutes=2)) == 120.0
    for bad in (crontab(minute=0), 0, -5.0):
        with pytest.raises(CommandError, match="only intervals"):
            interval_of("c", bad)
