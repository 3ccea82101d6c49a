"""django-axes (login attempts and lockouts) as the admin shows it: its app under a name that says what
it keeps, and the words of its admin pages, which the package ships with no Chinese; and the words of
django-guardian's desk permission pages, which it ships with no Traditional Chinese.

The words are listed here so that ``makemessages`` keeps them in the console's catalogues (``locale/``), which
Django reads before an app's own: a risk admin reading the admin in Chinese reads these in Chinese too.
They must stay the package's exact words; ``tests/test_translations.py`` checks that each is still one.
"""

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class LoginAttemptsConfig(AppConfig):
    """INSTALLED_APPS names this in place of ``axes``."""

    verbose_name = _("Login attempts")


AXES = (
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
)

GUARDIAN = (
    gettext_noop("Object permissions"),
    gettext_noop("Users"),
    gettext_noop("User permissions"),
    gettext_noop("Groups"),
    gettext_noop("Group permissions"),
    gettext_noop("Manage user"),
    gettext_noop("Manage group"),
    gettext_noop("Edit"),
    gettext_noop("Action"),
    gettext_noop("Save"),
    gettext_noop("Please correct the errors below."),
    gettext_noop("Permissions saved."),
)
