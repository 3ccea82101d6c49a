"""Requests refused before any view or middleware reads them."""

import codecs

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

FORM = "application/x-www-form-urlencoded"


@sync_and_async_middleware
def forms_in_utf8(get_response):
    """A form POSTed in another charset than UTF-8 (``charset=latin-1``) is a 400 that names the
    charset. Django refuses to decode one, and does so again in each reader of the form: the CSRF
    check, then its own 400 page, which then fails as a 500. Placed before the CSRF check; the
    server's async requests (the event streams) stay async."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _refusal(request) or await get_response(request)

    else:

        def middleware(request):
            return _refusal(request) or get_response(request)

    return middleware


def _refusal(request):
    if request.method != "POST" or request.content_type != FORM or request.encoding is None:
        return None
    try:
        utf8 = codecs.lookup(request.encoding).name == "utf-8"
    except LookupError:  # Django keeps only a charset Python knows; this is for one set otherwise
        utf8 = False
    if utf8:  # "UTF8", "utf_8": Django decodes a form only if its charset is written "utf-8"
        request.encoding = "utf-8"
        return None
    message = f"A form must be sent in UTF-8; this one declares charset={request.encoding[:40]!r}."
    if request.path.startswith("/api/"):  # the APIs answer their errors in JSON
        return JsonResponse({"error": message}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
