from .permissions import can_act, can_view


def console(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_can_view": False, "console_can_act": False}
    return {"console_can_view": can_view(user), "console_can_act": can_act(user)}
