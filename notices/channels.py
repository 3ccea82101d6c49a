"""How a delivery leaves: email through Django's email backend, SMS and voice through an HTTP gateway an
admin configures (:class:`notices.models.NoticeGateway`), or, where none is configured and
``NOTICE_LOG_DIR`` is set (the demo), a line in a log file. A timeout, a network failure or a 5xx is
:class:`Retry`; a 4xx or a missing address is :class:`Refused`, which is not retried."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape, linebreaks

from book.models import PHONE_RULE, not_a_phone
from console.text import hidden_in_address, printable

from .models import Channel, Delivery, NoticeGateway

USER_AGENT = "margincall-notices/1"


class Retry(Exception):
    """Worth trying again later."""


class Refused(Exception):
    """Will fail again: not retried."""


def send(delivery: Delivery) -> str:
    """Send one delivery; returns the gateway's reference ("" when it gave none)."""
    if not delivery.recipient:
        raise Refused(f"the client has no {delivery.get_channel_display().lower()} address")
    if delivery.channel != Channel.EMAIL and not_a_phone(delivery.recipient):
        shown = printable(delivery.recipient)[:40]
        raise Refused(f"the client's phone {shown!r} is not a phone number ({PHONE_RULE})")
    if delivery.channel == Channel.EMAIL and (char := hidden_in_address(delivery.recipient)):
        shown = printable(delivery.recipient)[:60]
        raise Refused(f"the client's email {shown!r} is not an address mail can go to (it holds U+{ord(char):04X})")
    if delivery.channel == Channel.EMAIL:
        return _email(delivery)
    gateway = NoticeGateway.objects.filter(channel=delivery.channel, active=True).first()
    if gateway is not None:
        return _http(delivery, gateway)
    if settings.NOTICE_LOG_DIR:
        return _log(delivery, Path(settings.NOTICE_LOG_DIR))
    raise Refused(f"no {delivery.channel} gateway is configured (Django admin: Notice gateways)")


def _email(delivery: Delivery) -> str:
    message = EmailMultiAlternatives(
        # One line: every line break Python knows (U+2028 in a client's name too), which a header refuses.
        subject=" ".join(delivery.subject.splitlines()),
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        headers={"X-Margincall-Delivery": str(delivery.pk)},
    )
    message.attach_alternative(f"<div>{linebreaks(escape(delivery.body))}</div>", "text/html")
    try:
        message.send()
    except (TimeoutError, OSError) as error:  # the SMTP server is away or slow
        raise Retry(f"email: {error}") from error
    return ""


def payload(delivery: Delivery) -> dict:
    """The JSON an SMS or voice gateway receives (docs/notices.md)."""
    notice = delivery.notice
    return {
        "id": delivery.pk,
        "channel": delivery.channel,
        "to": delivery.recipient,
        "language": delivery.language,
        "text": delivery.body,
        "account_no": notice.account.account_no,
        "kind": notice.kind,
        "status_url": settings.NOTICE_STATUS_URL,
    }


def _http(delivery: Delivery, gateway: NoticeGateway) -> str:
    body = json.dumps(payload(delivery), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if gateway.token:
        headers["Authorization"] = f"Bearer {gateway.token}"
    request = urllib.request.Request(gateway.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=float(gateway.timeout_seconds)) as response:
            answer = response.read(10_000)
    except urllib.error.HTTPError as error:
        text = error.read(300).decode("utf-8", "replace")
        if error.code >= 500 or error.code == 429:
            raise Retry(f"{delivery.channel} gateway answered {error.code}: {text}") from None
        raise Refused(f"{delivery.channel} gateway refused it ({error.code}): {text}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise Retry(f"{delivery.channel} gateway unreachable: {reason}") from None
    try:
        reference = json.loads(answer or b"{}").get("id", "")
    except (ValueError, AttributeError):
        reference = ""
    return str(reference)[:100]


def _log(delivery: Delivery, directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{delivery.channel}.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps(payload(delivery), ensure_ascii=False) + "\n")
    return ""
