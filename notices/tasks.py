"""The notices' work on the worker: deliveries with retries and exponential backoff, the system's
notices when calls open or escalate, and the daily job (beat, every minute; each rule set's time
decides when it acts)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import current_app, shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import channels, services
from .models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True, acks_late=True)
def deliver(self, delivery_id: int) -> None:
    """Send a delivery; on a timeout or a 5xx, try again after NOTICE_RETRY_SECONDS, then twice that,
    and so on, NOTICE_MAX_RETRIES times; then it fails with its last error. Run in process (the
    embedded default, which has no broker to hold a retry), it stays queued and the sweep sends it
    again once its wait is over."""
    try:
        services.deliver(delivery_id)
    except channels.Retry as error:
        if self.request.is_eager:
            services.retry_later(delivery_id, str(error))
            return
        attempt = self.request.retries or 0
        if attempt >= settings.NOTICE_MAX_RETRIES:
            services.give_up(delivery_id, str(error))
            return
        countdown = settings.NOTICE_RETRY_SECONDS * 2**attempt
        self.retry(countdown=countdown, max_retries=settings.NOTICE_MAX_RETRIES, throw=False)


@shared_task(ignore_result=True)
def system_notices(kind: str, call_ids: list[int]) -> int:
    return len(services.system_notices(kind, call_ids))


@shared_task(ignore_result=True)
def send_daily_notices() -> int:
    return len(services.daily_notices())


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """Deliveries left queued are queued again: at once those whose task could not be queued (the broker
    was away), after ``NOTICE_SWEEP_AFTER_SECONDS`` any other (its task was lost). A delivery stuck
    sending (its worker died mid-send) fails: it may have gone, so it is never sent twice by itself."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.NOTICE_SWEEP_AFTER_SECONDS)
    stuck = Delivery.objects.filter(status=DeliveryStatus.SENDING, updated_at__lt=now - dt.timedelta(minutes=10))
    for delivery in stuck.select_related("notice"):
        services._set(
            delivery,
            DeliveryStatus.FAILED,
            services.SENDING,
            error="interrupted while sending: not sent again by itself",
        )
    queued = list(
        Delivery.objects.filter(status=DeliveryStatus.QUEUED)
        .filter(Q(updated_at__lt=stale) | Q(error=services.NOT_QUEUED))
        .order_by("updated_at", "pk")  # the longest waiting first
        .values_list("pk", flat=True)[:5000]
    )
    if current_app.conf.task_always_eager:  # no broker holds retries: those whose wait is over go now
        queued += [pk for pk in services.retries_due(now) if pk not in set(queued)]
    for delivery_id in queued:
        deliver.delay(delivery_id)
    # Queued now: the next sweep leaves them to their task (a backlog is not queued again every minute).
    Delivery.objects.filter(pk__in=queued, status=DeliveryStatus.QUEUED, error=services.NOT_QUEUED).update(error="")
    return len(queued)
