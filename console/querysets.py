"""Querysets of desk-owned records (accounts and calls now; orders, notices and recovery items
later). ``visible_to(user)`` narrows one to the desks the user may see: views fetch desk-owned
records only through it, so another desk's record is, for that user, not there (a 404)."""

from django.apps import apps
from django.conf import settings
from django.db import models

# The desk model (``app_label.Model``), named in settings as Django names its user model, so the
# console, beneath every app, knows desks without importing the app that keeps them.
DESK_APP, DESK_MODEL = settings.CONSOLE_DESK_MODEL.split(".")
VIEW_DESK = f"{DESK_APP}.view_{DESK_MODEL.lower()}"


def visible_desks(user) -> models.QuerySet:
    """The desks a user sees: every desk with the global ``book.view_desk`` permission, else the desks
    granted to them or their groups (django-guardian object permissions), read once per request."""
    desk = apps.get_model(DESK_APP, DESK_MODEL)
    if user.has_perm(VIEW_DESK):
        return desk.objects.all()
    return desk.objects.filter(pk__in=visible_desk_ids(user))


def visible_desk_ids(user) -> list[int]:
    """The ids of the desks a user sees, read once for this user object (a request's). Filtered by the
    ids themselves, a list's query is planned for those desks' share of the rows: filtered by the
    permissions' subquery, the database guesses, and reads every account to count a few desks'."""
    ids = user.__dict__.get("_console_desk_ids")
    if ids is None:
        from guardian.shortcuts import get_objects_for_user

        desk = apps.get_model(DESK_APP, DESK_MODEL)
        if user.has_perm(VIEW_DESK):
            granted = desk.objects.all()
        else:
            granted = get_objects_for_user(user, VIEW_DESK, klass=desk, accept_global_perms=False)
        ids = user.__dict__["_console_desk_ids"] = sorted(granted.values_list("pk", flat=True))
    return ids


class DeskScopedQuerySet(models.QuerySet):
    desk_lookup = "desk"  # the path from the model to its desk

    def visible_to(self, user) -> models.QuerySet:
        if user.has_perm(VIEW_DESK):
            return self
        return self.filter(**{f"{self.desk_lookup}__in": visible_desk_ids(user)})
