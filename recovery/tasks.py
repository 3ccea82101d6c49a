"""The short-stock scan on the worker: beat every 15 minutes, acting only in XHKG trading."""

from celery import shared_task
from django.utils import timezone

from book.trading_calendar import is_trading

from . import services


@shared_task(ignore_result=True)
def scan_recovery() -> int:
    now = timezone.now()
    if not is_trading(now):
        return 0
    return services.run_scan(now).items
