"""Console users for tests: a user in a group, seeing every desk or only some."""

from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from guardian.shortcuts import assign_perm

from book.models import Desk


def make_user(username, group=None, *, all_desks=True, desks=()):
    user = User.objects.create_user(username, password="pw-" + username)
    if group:
        user.groups.add(Group.objects.get(name=group))
    if all_desks:
        user.user_permissions.add(Permission.objects.get(codename="view_desk"))
    for code in desks:
        assign_perm("book.view_desk", user, Desk.objects.get(code=code))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def confirmed(client: Client, url: str, data: dict):
    """Post an admin form whose save changes margin calls: shown what it would do, unsaved, then sent
    again with its confirmation."""
    shown = client.post(url, data)
    assert shown.status_code == 200, shown.status_code
    impact = shown.context["console_impact"]
    assert impact, shown.context["adminform"].form.errors
    assert impact["lines"]
    return client.post(url, {**data, "_confirm_impact": impact["token"]})
