"""``POST /api/notices/status``: a gateway reports what became of SMS and voice deliveries, with an API
token like the ticks API. The body is a JSON list of ``{"id", "status": "delivered"|"failed", "time",
"error"?}``; the answer has an outcome per item, in order."""

from __future__ import annotations

import logging
from typing import Any

from django.http import JsonResponse

from book.api import TokenListView
from book.book_format import FieldError, parse_integer, parse_text
from book.feeds import feed_object, feed_time, feed_value
from book.models import ApiScope

from . import services

logger = logging.getLogger(__name__)

MAX_ITEMS = 1000
STATUSES = ("delivered", "failed")


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
    error = ""
    if item.get("error") is not None:
        error = feed_value(item, "error", parse_text, max_length=500, required=False)
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
