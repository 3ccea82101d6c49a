"""The upstream API: ``POST /api/ticks`` with ``Authorization: Bearer <token>`` (an API token an admin
creates in Django admin)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import lending, ticks
from .book_format import JsonMalformed, describe, load_json
from .models import ApiScope, ApiToken

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


LAST_USED_PRECISION = timedelta(minutes=1)


def authenticate(request) -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = ApiToken.objects.filter(digest=ApiToken.hash(token.strip()), active=True).first()
    if api_token is not None:
        now = timezone.now()
        last = api_token.last_used_at
        # To the minute: a price feed posts many times a second, and a write (and a commit) per request
        # would cost the feed more than its prices do.
        if last is None or last < now - LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token


class BodyMalformed(ValueError):
    """The body as a whole cannot be read."""


def load_list(body: bytes | str, *, noun: str, counted: str, max_items: int) -> list:
    """A request body that must be a JSON list (numbers as Decimal) of at most ``max_items``."""
    try:
        data = load_json(body)
    except JsonMalformed as error:
        raise BodyMalformed(f"the body is {error}") from None
    if not isinstance(data, list):
        raise BodyMalformed(f"the body must be a JSON list of {noun}, got {describe(data)}")
    if len(data) > max_items:
        raise BodyMalformed(f"at most {max_items} {counted} per request, got {len(data)}")
    return data


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class TokenListView(View):
    """An upstream system POSTs a JSON list with its API token: 401 without a valid token, 400 for a
    body that is not such a list, else :meth:`handle`'s answer, an outcome per item."""

    http_method_names = ["post"]
    noun = "items"  # "a JSON list of <noun>"
    counted = "items"  # "at most N <counted> per request"
    max_items = 1000
    scope = ""  # what a token must be allowed to post here (ApiScope)

    def post(self, request):
        token = authenticate(request)
        if token is None:
            response = _error(401, "a valid API token is required: Authorization: Bearer <token>")
            response["WWW-Authenticate"] = "Bearer"
            return response
        if not token.allows(self.scope):
            logger.warning("token %s posted %s, which it may not", token.name, request.path)
            return _error(
                403, f"the token {token.name!r} may not post {self.noun}: it may post {token.scopes or 'nothing'}"
            )
        try:
            items = load_list(request.body, noun=self.noun, counted=self.counted, max_items=self.max_items)
        except BodyMalformed as error:
            return _error(400, str(error))
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return _error(413, f"the body is larger than {limit:,} bytes: send fewer {self.counted} per request")
        return self.handle(token, items)

    def handle(self, token: ApiToken, items: list) -> JsonResponse:
        raise NotImplementedError

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = _error(405, f"use POST with a JSON list of {self.noun}")
        response["Allow"] = "POST"
        return response


class TicksView(TokenListView):
    noun = counted = "ticks"
    scope = ApiScope.TICKS
    max_items = ticks.MAX_TICKS

    def handle(self, token, items):
        result = ticks.apply_and_recompute(items)  # one transaction, its own
        refused = [outcome for outcome in result.outcomes if not outcome.applied]
        logger.info(
            "ticks from %s: %d applied, %d refused%s",
            token.name,
            result.applied,
            len(refused),
            # the first reasons (each is in the answer too): a feed that sends bad ticks shows here
            "".join(f"; [{outcome.index}] {outcome.reason}" for outcome in refused[:3]),
        )
        return JsonResponse(
            {
                "applied": result.applied,
                "refused": len(result.outcomes) - result.applied,
                "results": [outcome.as_dict() for outcome in result.outcomes],
            }
        )


class LendingView(TokenListView):
    """``POST /api/lending``: what the prime broker can lend, per stock (:mod:`book.lending`)."""

    noun = "lending reports"
    counted = "reports"
    scope = ApiScope.LENDING
    max_items = lending.MAX_ITEMS

    def handle(self, token, items):
        with transaction.atomic():
            outcomes = lending.apply(items)
        applied = sum(outcome["status"] == "applied" for outcome in outcomes)
        logger.info("lending from %s: %d applied, %d refused", token.name, applied, len(outcomes) - applied)
        return JsonResponse({"applied": applied, "refused": len(outcomes) - applied, "results": outcomes})
