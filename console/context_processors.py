from .permissions import ACTIONS, can, can_view


def console(request):
    """What the templates may draw for this user, asked of the same place the views ask:
    ``console_can_view``, ``console_can_act`` and ``console_can.<action>`` for each named action."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_can_view": False, "console_can_act": False, "console_can": dict.fromkeys(ACTIONS, False)}
    allowed = {name: can(user, permission) for name, permission in ACTIONS.items()}
    return {"console_can_view": can_view(user), "console_can_act": allowed["act"], "console_can": allowed}
