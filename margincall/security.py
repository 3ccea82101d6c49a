"""Login throttling's project-specific parts: whose address a request is, which username it tried, and
the lockout page."""

import ipaddress

from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from console.text import printable


def client_ip(request) -> str:
    """The client's address. Directly: ``REMOTE_ADDR``. Behind ``PROXY_COUNT`` reverse proxies, each
    appending the address it received from to ``X-Forwarded-For``: the entry that many from the right,
    the one our outermost proxy wrote. Entries further left came from the client and prove nothing.
    A header too short or not an address falls back to ``REMOTE_ADDR``: the proxy's, never the client's
    word."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote


def client_username(request, credentials=None) -> str | None:
    """The username a login tried, as the failures are counted and stored under it: printable (a NUL or
    a lone surrogate is escaped; the database stores neither) and cut at the longest username there can
    be, so a 100,000-character name is a wrong login, not a failure to record one."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    username = source.get(settings.AXES_USERNAME_FORM_FIELD) if source else None
    if not isinstance(username, str):
        return None
    longest = get_user_model()._meta.get_field("username").max_length
    return printable(username)[:longest]


def lockout_response(request, original_response=None, credentials=None):
    """The answer to a login while its username or address is locked: a page in the console's layout,
    in the user's language, 429 Too Many Requests, with when to try again."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    add_never_cache_headers(response)
    return response
