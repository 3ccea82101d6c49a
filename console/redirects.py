"""Where an action sends the browser back to."""

from django.utils.http import url_has_allowed_host_and_scheme


def back_to(request, default: str) -> str:
    """The page's own path when the form sent a safe one (``next``), else ``default``."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default
