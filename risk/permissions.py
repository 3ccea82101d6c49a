"""Who may see and do what in the console (SPEC §2), decided in one place.

- ``risk.view_console``: see console pages (groups RiskWarningFull and RiskWarningReadOnly).
- ``risk.act_console``: take actions (group RiskWarningFull only).
- Desk scope: a user with the global ``risk.view_desk`` permission sees every desk; otherwise only
  the desks granted to them (or their groups) as django-guardian object permissions.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from guardian.shortcuts import get_objects_for_user

from . import audit
from .models import Account, Desk, MarginCall

VIEW_CONSOLE = "risk.view_console"
ACT_CONSOLE = "risk.act_console"
VIEW_DESK = "risk.view_desk"
FULL_GROUP = "RiskWarningFull"
READ_ONLY_GROUP = "RiskWarningReadOnly"
REFUSED_NOT_PERMITTED = "refused: not permitted"


def can_view(user) -> bool:
    return user.is_authenticated and user.has_perm(VIEW_CONSOLE)


def can_act(user) -> bool:
    return user.is_authenticated and user.has_perm(ACT_CONSOLE)


def visible_desks(user) -> QuerySet:
    if user.has_perm(VIEW_DESK):
        return Desk.objects.all()
    return get_objects_for_user(user, VIEW_DESK, klass=Desk, accept_global_perms=False)


def visible_accounts(user, queryset: QuerySet | None = None) -> QuerySet:
    """Narrow accounts to the user's desks; an account outside them is, for this user, not there (404)."""
    queryset = queryset if queryset is not None else Account.objects.all()
    if user.has_perm(VIEW_DESK):
        return queryset
    return queryset.filter(desk__in=visible_desks(user))


def visible_calls(user) -> QuerySet:
    """The margin calls of the desks this user sees; another desk's call is, for them, not there."""
    if user.has_perm(VIEW_DESK):
        return MarginCall.objects.all()
    return MarginCall.objects.filter(account__desk__in=visible_desks(user))


def stream_desks(user) -> frozenset[int] | bool | None:
    """What a live stream may tell this user about: None for every desk, else the ids of their desks;
    False when they may not see the console."""
    if not can_view(user):
        return False
    if user.has_perm(VIEW_DESK):
        return None
    return frozenset(visible_desks(user).values_list("pk", flat=True))


class ConsoleMixin(AccessMixin):
    """Console views: anonymous users go to login; users without console permission get 403;
    unsafe methods need the act permission. A refused action is written to the audit log under the
    view's ``action`` name with the calls it named. No answer is kept by a browser or a proxy: every
    page, fragment, event stream and CSV carries clients' figures (``Cache-Control: no-store``)."""

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
    action = ""  # the audit log's name for what an unsafe request to this view does; pages have none

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        unsafe = request.method not in self.SAFE_METHODS
        if not can_view(request.user) or (unsafe and not can_act(request.user)):
            if unsafe:
                self.audit_refusal(request, REFUSED_NOT_PERMITTED)
            raise PermissionDenied
        response = super().dispatch(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def targeted_calls(self, request) -> list[int]:
        """The ids of the calls an unsafe request names, as sent (they may not exist)."""
        return []

    def audit_refusal(self, request, outcome: str) -> None:
        if self.action:
            audit.record(request.user, self.action, calls=self.targeted_calls(request), outcome=outcome)
