"""Messages of Django's own that its Chinese catalogues do not translate yet (strings new in Django 6.1
that the console's pages and admin show). Listed here, ``makemessages`` keeps them in the project's
catalogues, which ``LOCALE_PATHS`` puts before Django's: a Chinese page then reads them in Chinese."""

from django.utils.translation import gettext_noop, ngettext_lazy

MESSAGES = (
    gettext_noop("- Select an option -"),  # the empty choice of every choice field (BLANK_CHOICE_LABEL)
    gettext_noop("Logout"),  # the admin's logged-out page
    gettext_noop("Filter by %(field_name)s"),  # the admin's date hierarchy
    gettext_noop("No %s matches the given query."),  # get_object_or_404()
    ngettext_lazy("…and %(count)d more object.", "…and %(count)d more objects.", "count"),  # the admin's delete summary
)
