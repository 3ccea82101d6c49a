"""Requests refused before any view or middleware reads them."""

import codecs

from django.http import HttpResponseBadRequest
from django.utils.deprecation import MiddlewareMixin

FORM = "application/x-www-form-urlencoded"


class FormsInUtf8(MiddlewareMixin):
    """A form body declared in another charset than UTF-8 (``charset=latin-1``) is a 400 that names
    the charset. Django refuses to decode one, and does so again in each reader of the form: the CSRF
    check, then its own 400 page, which then fails as a 500. Placed before the CSRF check; runs in
    the server's async path as in a sync one (MiddlewareMixin), so the event streams stay async."""

    def process_request(self, request):
        if request.content_type != FORM or request.encoding is None:
            return None
        try:
            utf8 = codecs.lookup(request.encoding).name == "utf-8"
        except LookupError:  # Django keeps only a charset Python knows; this is for one set otherwise
            utf8 = False
        if utf8:  # "UTF8", "utf_8": Django decodes a form only if its charset is written "utf-8"
            request.encoding = "utf-8"
            return None
        return HttpResponseBadRequest(
            f"A form must be sent in UTF-8; this one declares charset={request.encoding[:40]!r}.",
            content_type="text/plain; charset=utf-8",
        )
