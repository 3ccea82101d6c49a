"""Who may see and do what in the console (docs/domain.md, Permissions), decided in one place.

- ``console.view_console``: see console pages (groups RiskWarningFull and RiskWarningReadOnly).
- ``console.act_console``: take actions (group RiskWarningFull only).
- Desk scope: a user with the global ``book.view_desk`` permission sees every desk; otherwise only
  the desks granted to them (or their groups) as django-guardian object permissions.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.utils.cache import add_never_cache_headers

from . import audit
from .bootstrap import FULL_GROUP, READ_ONLY_GROUP  # noqa: F401  (the groups, named here too)
from .querysets import VIEW_DESK, visible_desk_ids

VIEW_CONSOLE = "console.view_console"
ACT_CONSOLE = "console.act_console"
REFUSED_NOT_PERMITTED = "refused: not permitted"


# The named actions of the console, each a permission granted to RiskWarningFull (by migration) and
# never to RiskWarningReadOnly. A view declares the one it needs (ConsoleMixin.permission); templates
# ask through the context processor. The liquidation, notice and recovery apps add theirs with
# register_action in their ready().
ACTIONS = {"act": ACT_CONSOLE}


def register_action(name: str, permission: str) -> None:
    """Name an action (``liquidate``) by its permission (``liquidation.liquidate``)."""
    if ACTIONS.get(name, permission) != permission:
        raise ValueError(f"action {name!r} is already {ACTIONS[name]!r}")
    ACTIONS[name] = permission


def can(user, permission: str) -> bool:
    """The one question views and templates ask: may this user do this? Asked many times a page (each
    panel's template asks again), it is answered once a request: the user object is the request's, and
    Django's own backend keeps its permissions on it the same way."""
    if not user.is_authenticated:
        return False
    answers = user.__dict__.setdefault("_console_can", {})
    if permission not in answers:
        answers[permission] = user.has_perm(permission)
    return answers[permission]


def can_view(user) -> bool:
    return can(user, VIEW_CONSOLE)


def can_act(user) -> bool:
    return can(user, ACT_CONSOLE)


def stream_desks(user) -> frozenset[int] | bool | None:
    """What a live stream may tell this user about: None for every desk, else the ids of their desks;
    False when they may not see the console."""
    if not can_view(user):
        return False
    if user.has_perm(VIEW_DESK):
        return None
    return frozenset(visible_desk_ids(user))


class ConsoleMixin(AccessMixin):
    """Console views: anonymous users go to login; users without console permission get 403;
    unsafe methods need the act permission. A refused action is written to the audit log under the
    view's ``action`` name with the calls it named. No answer is kept by a browser or a proxy: every
    page, fragment, event stream and CSV carries clients' figures (``Cache-Control: no-store``)."""

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
    action = ""  # the audit log's name for what an unsafe request to this view does; pages have none
    permission = ACT_CONSOLE  # what an unsafe request to this view needs

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        unsafe = request.method not in self.SAFE_METHODS
        if not can_view(request.user) or (unsafe and not can(request.user, self.permission)):
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
