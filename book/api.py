"""The upstream API: ``POST /api/ticks`` with ``Authorization: Bearer <token>`` (an API token an admin
creates in Django admin)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import lending, ticks
from .models import ApiToken

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def authenticate(request) -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = ApiToken.objects.filter(digest=ApiToken.hash(token.strip()), active=True).first()
    if api_token is not None:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
    return api_token


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class TicksView(View):
    http_method_names = ["post"]

    def post(self, request):
        token = authenticate(request)
        if token is None:
            response = _error(401, "a valid API token is required: Authorization: Bearer <token>")
            response["WWW-Authenticate"] = "Bearer"
            return response
        try:
            items = ticks.load_ticks(request.body)
        except ticks.TicksMalformed as error:
            return _error(400, str(error))
        with transaction.atomic():
            result = ticks.apply_and_recompute(items)
        logger.info(
            "ticks from %s: %d applied, %d refused", token.name, result.applied, len(result.outcomes) - result.applied
        )
        return JsonResponse(
            {
                "applied": result.applied,
                "refused": len(result.outcomes) - result.applied,
                "results": [outcome.as_dict() for outcome in result.outcomes],
            }
        )

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = _error(405, "use POST with a JSON list of ticks")
        response["Allow"] = "POST"
        return response


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class LendingView(View):
    """``POST /api/lending``: what the prime broker can lend, per stock (:mod:`book.lending`)."""

    http_method_names = ["post"]

    def post(self, request):
        token = authenticate(request)
        if token is None:
            response = _error(401, "a valid API token is required: Authorization: Bearer <token>")
            response["WWW-Authenticate"] = "Bearer"
            return response
        try:
            items = lending.load(request.body)
        except lending.LendingMalformed as error:
            return _error(400, str(error))
        with transaction.atomic():
            outcomes = lending.apply(items)
        applied = sum(outcome["status"] == "applied" for outcome in outcomes)
        logger.info("lending from %s: %d applied, %d refused", token.name, applied, len(outcomes) - applied)
        return JsonResponse({"applied": applied, "refused": len(outcomes) - applied, "results": outcomes})

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = _error(405, "use POST with a JSON list of lending reports")
        response["Allow"] = "POST"
        return response
