"""``POST /api/notices/status``: a gateway reports what became of SMS and voice deliveries, with an API
token like the ticks API. The body is a JSON list of ``{"id", "status": "delivered"|"failed", "time",
"error"?}``; the answer has an outcome per item, in order."""

from __future__ import annotations

import logging
from typing import Any

from django.http import JsonResponse

from book.api import TokenListView
from book.book_format import FieldError, describe, parse_integer
from book.feeds import feed_object, feed_time
from book.models import ApiScope
from console.text import printable

from . import services

logger = logging.getLogger(__name__)

MAX_ITEMS = 1000
STATUSES = ("delivered", "failed")
ERROR_LENGTH = 500


def gateway_error(value: Any) -> str:
    """A gateway's own words on a failure, kept whatever they hold: what became of the message matters
    more than how the gateway put it. Line breaks and tabs become spaces, any other character that
    cannot be shown is escaped (``\\x00``), and a long text is cut."""
    if not isinstance(value, str):
        raise FieldError(f"error must be a string, got {describe(value)}")
    text = printable(" ".join(value.split()))
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def parse_item(item: Any) -> tuple[int, str, str, Any]:
    item = feed_object(item, what="an item", required=("id", "status", "time"), optional=("error",))
    try:
        if isinstance(item["id"], str):  # a JSON number, not a numeric string
            raise FieldError("is text")
        # Sized before it becomes an int: int(Decimal("1e999999999")) would build a billion digits.
        identifier = parse_integer(item["id"], minimum=1)
    except FieldError:
        raise FieldError("id must be a delivery's id (a positive whole number)") from None
    if item["status"] not in STATUSES:
        raise FieldError("status must be delivered or failed")
    time = feed_time(item)
    error = gateway_error(item["error"]) if item.get("error") is not None else ""
    return identifier, item["status"], error, time


class StatusView(TokenListView):
    noun = counted = "statuses"
    scope = ApiScope.NOTICE_STATUS
    max_items = MAX_ITEMS

    def handle(self, token, items):
        results = []
        for index, item in enumerate(items):
            try:
                delivery_id, status, error, time = parse_item(item)
            except FieldError as problem:
                results.append({"index": index, "status": "refused", "reason": str(problem)})
                continue
            why = services.report(delivery_id, status, error=error, at=time)
            result = {"index": index, "id": delivery_id, "status": "refused" if why else "applied"}
            if why:
                result["reason"] = why
            results.append(result)
        applied = sum(result["status"] == "applied" for result in results)
        logger.info("notice statuses from %s: %d applied, %d refused", token.name, applied, len(results) - applied)
        return JsonResponse({"applied": applied, "refused": len(results) - applied, "results": results})
