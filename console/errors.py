"""The console's own page for a form the CSRF check refused, in its layout and the reader's language."""

from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request, reason: str = ""):
    """A form sent without its token, or with one of another session (a page left open past a new
    login, a form posted from elsewhere): refused, and the desk told how to go on."""
    message = _("This form is out of date or was not sent from the console: reload the page and try again.")
    return render(request, "403.html", {"exception": message, "out_of_date": True}, status=403)
