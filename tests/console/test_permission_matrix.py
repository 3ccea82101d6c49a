"""One permission matrix over every URL of every app, from an explicit table: a new URL without a row
fails ``test_every_url_has_a_row``. Each row says what kind of view it is, and each kind has the same
expectations everywhere:

- ``page`` (GET): anonymous to login; no console group 403; viewer 200; viewer POST 403; a user of
  another desk 404 when the page names one desk's object.
- ``action`` (POST): anonymous to login (nothing audited); no console group and viewer 403, another
  desk 404, each refusal audited with the action's name and the calls it named; nothing applied.
- ``stream`` (the live event stream): anonymous to login, no console group 403 (what it sends to whom
  is tested in ``test_streams``).
- ``api``: a bearer token and nothing else (a console session is no token): 401.
- ``public``: login, logout, language switch, the health check, open to anyone.
- ``admin``: Django's admin, for staff only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.models import AuditEntry
from risk.models import MarginCall
from tests.users import client_for, make_user

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    kind: str
    args: Callable[[MarginCall], list] = lambda call: []
    data: dict | Callable[[MarginCall], dict] = field(default_factory=dict)
    desk_scoped: bool = False
    action: str = ""  # the audit log's name for an action
    names_calls: bool = True  # whether a refused action's audit entry names the call (recovery's have none)
    firm_wide: bool = False  # an action on what belongs to no desk: a user who does not see every desk gets 403


def an_order(call: MarginCall) -> dict:
    from liquidation.models import Order

    order = Order.objects.create(
        account=call.account, call=call, instrument_id=call.account.positions.first().instrument_id,
        side="sell", quantity=1, limit_price=1,
    )  # fmt: skip
    return {"orders": [order.pk]}


def a_delivery(call: MarginCall) -> dict:
    from notices.models import Delivery, Notice

    notice = Notice.objects.create(call=call, account=call.account, kind="manual", key="manual:matrix")
    delivery = Delivery.objects.create(notice=notice, channel="email", language="en", body="x", status="failed")
    return {"deliveries": [delivery.pk]}


def a_case(call: MarginCall) -> int:
    from django.utils import timezone

    from recovery.models import CoveredCallCase

    underlying = call.account.positions.first().instrument
    case, _created = CoveredCallCase.objects.get_or_create(
        account=call.account, underlying=underlying, resolved_at=None, defaults={"due": timezone.now()}
    )
    return case.pk


def a_short_item(call: MarginCall) -> int:
    from django.utils import timezone

    from recovery.models import RecoveryScan, ShortStockItem

    item, _created = ShortStockItem.objects.get_or_create(
        account=call.account,
        instrument=call.account.positions.first().instrument,
        resolved_at=None,
        defaults={
            "reason": "not_shortable", "short_quantity": 100, "quantity": 100, "due": timezone.now(),
            "scan": RecoveryScan.objects.create(),
        },
    )  # fmt: skip
    return item.pk


def a_batch(call: MarginCall) -> list:
    from liquidation.models import Batch, BatchItem

    batch = Batch.objects.create(created_by=make_user("batcher", "RiskWarningFull"), key="k" * 16, total=1)
    BatchItem.objects.create(batch=batch, call=call)
    return [batch.pk]


ROUTES: dict[str, Route] = {
    "login": Route("public"),
    "logout": Route("public"),
    "set_language": Route("public"),
    "healthz": Route("public"),
    "admin:*": Route("admin"),
    "book:api-ticks": Route("api"),
    "book:api-lending": Route("api"),
    "risk:home": Route("page"),
    "risk:warning": Route("page"),
    "risk:intraday": Route("page"),
    "risk:history": Route("page"),
    "risk:account": Route("page", args=lambda call: [call.account.account_no], desk_scoped=True),
    "risk:call": Route("page", args=lambda call: [call.pk], desk_scoped=True),
    "risk:snapshot": Route(
        "page", args=lambda call: [call.pk, call.snapshots.values_list("pk", flat=True).first()], desk_scoped=True
    ),
    "risk:call-events": Route("stream", args=lambda call: ["margin"]),
    "risk:freshness": Route("page"),
    "risk:exception-batch": Route(
        "action", data={"action": "mark", "reason": "r"}, desk_scoped=True, action="exception"
    ),
    "risk:call-exception": Route(
        "action",
        args=lambda call: [call.pk],
        data={"action": "mark", "reason": "r"},
        desk_scoped=True,
        action="exception",
    ),
    "risk:call-end": Route(
        "action", args=lambda call: [call.pk], data={"reason": "paid"}, desk_scoped=True, action="end_call"
    ),
    "risk:call-remark": Route(
        "action", args=lambda call: [call.pk], data={"text": "hello"}, desk_scoped=True, action="add_remark"
    ),
    "risk:call-deadline": Route(
        "action",
        args=lambda call: [call.pk],
        data={"deadline": "2027-01-05T16:00", "reason": "r"},
        desk_scoped=True,
        action="move_deadline",
    ),
    "notices:list": Route("page"),
    "notices:preview": Route("page"),
    "notices:send": Route(
        "action",
        data=lambda call: {"calls": [call.pk], "channels": ["email"], "kind": "manual", "key": "form-key-123456"},
        desk_scoped=True,
        action="send_notice",
    ),
    "notices:resend": Route("action", data=a_delivery, desk_scoped=True, action="send_notice"),
    "notices:api-status": Route("api"),
    "recovery:covered-calls": Route("page"),
    "recovery:case-events": Route("stream"),
    "recovery:covered-call": Route("page", args=lambda call: [a_case(call)], desk_scoped=True),
    "recovery:case-status": Route(
        "action",
        args=lambda call: [a_case(call)],
        data={"status": "done"},
        desk_scoped=True,
        action="recover",
        names_calls=False,
    ),
    "recovery:short-stock": Route("page"),
    "recovery:short-item": Route("page", args=lambda call: [a_short_item(call)], desk_scoped=True),
    "recovery:short-status": Route(
        "action",
        args=lambda call: [a_short_item(call)],
        data={"status": "done"},
        desk_scoped=True,
        action="recover",
        names_calls=False,
    ),
    "recovery:lending": Route("page"),
    # A lending pool is the firm's: a trader who sees every desk sets its status, one of a desk does not.
    "recovery:pool-status": Route(
        "action", data={"stock": "A.HK", "status": "closed"}, action="recover", names_calls=False, firm_wide=True
    ),
    "recovery:buy-back": Route(
        "action",
        data=lambda call: {"account": call.account.account_no, "symbol": "A.HK", "quantity": 1, "key": "k" * 16},
        desk_scoped=True,
        action="recover",
        names_calls=False,
    ),
    "recovery:message": Route(
        "action",
        data=lambda call: {"items": [a_short_item(call)], "channels": ["email"], "key": "k" * 16},
        desk_scoped=True,
        action="recover",
        names_calls=False,
    ),
    "liquidation:orders": Route("page"),
    "liquidation:order-events": Route("stream"),
    "liquidation:call-orders": Route("page", args=lambda call: [call.pk], desk_scoped=True),
    "liquidation:batch-preview": Route("page"),
    "liquidation:batch-detail": Route("page", args=a_batch),
    "liquidation:preview": Route("page", args=lambda call: [call.pk], desk_scoped=True),
    "liquidation:call-liquidate": Route(
        "action",
        args=lambda call: [call.pk],
        data={"key": "form-key-123456", "symbol": "A.HK", "quantity:A.HK": "100"},
        desk_scoped=True,
        action="liquidate",
    ),
    "liquidation:cancel": Route("action", data=an_order, desk_scoped=True, action="cancel_order"),
    "liquidation:batch": Route(
        "action",
        data=lambda call: {"calls": [call.pk], "action": "liquidate", "key": "form-key-123456"},
        desk_scoped=True,
        action="liquidate",
    ),
}


def url_names(patterns=None, namespace=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            if namespace == "admin":
                yield "admin:*"
            else:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_has_a_row():
    names = set(url_names())
    assert None not in names, "a URL without a name"
    assert not any(name.endswith(":None") for name in names), "a URL without a name"
    assert names - set(ROUTES) == set(), "URLs with no row in the permission table"
    assert set(ROUTES) - names == set(), "rows for URLs that no longer exist"


@pytest.fixture
def call(book):
    return MarginCall.objects.select_related("account").get(account__account_no="M100001")


def to_login(response) -> bool:
    return response.status_code == 302 and response.url.split("?")[0] in (reverse("login"), reverse("admin:login"))


def request_data(route: Route, call: MarginCall) -> dict:
    if callable(route.data):
        return route.data(call)
    return {**route.data, "calls": [call.pk]} if route.action == "exception" and not route.args(call) else route.data


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_permission_matrix(name, call, viewer, desk_trader):
    route = ROUTES[name]
    anonymous, nobody = Client(), client_for(make_user("nobody"))
    read_only, other_desk = client_for(viewer), client_for(desk_trader)
    if route.kind == "admin":
        assert to_login(read_only.get(reverse("admin:index")))  # console users are not staff
        return
    url = reverse(name, args=route.args(call))
    if route.kind == "public":
        expected = {"login": 200, "logout": 302, "set_language": 302, "healthz": 200}[name]
        method = anonymous.get if name in ("login", "healthz") else anonymous.post
        assert method(url, {"language": "en"} if name == "set_language" else {}).status_code == expected
    elif route.kind == "api":
        assert anonymous.post(url, "[]", content_type="application/json").status_code == 401
        assert read_only.post(url, "[]", content_type="application/json").status_code == 401
    elif route.kind == "stream":
        assert to_login(anonymous.get(url))
        assert nobody.get(url).status_code == 403
    elif route.kind == "page":
        assert to_login(anonymous.get(url))
        assert nobody.get(url).status_code == 403
        assert read_only.get(url).status_code == 200
        assert read_only.post(url, {}).status_code == 403
        if route.desk_scoped:
            assert other_desk.get(url).status_code == 404
    else:
        assert route.kind == "action", name
        from liquidation.models import Order

        before = list(MarginCall.objects.values())
        data = request_data(route, call)
        audited = AuditEntry.objects.count()
        assert to_login(anonymous.post(url, data))
        assert AuditEntry.objects.count() == audited  # nobody to name
        refusals = [(nobody, 403), (read_only, 403)]
        refusals += [(other_desk, 404)] if route.desk_scoped else [(other_desk, 403)] if route.firm_wide else []
        for client, status in refusals:
            response = client.post(url, data)
            assert response.status_code == status, (name, status)
            entry = AuditEntry.objects.order_by("pk").last()
            targets = [{"call": call.pk}] if route.names_calls else []
            assert (entry.action, entry.targets) == (route.action, targets), name
            assert entry.outcome.startswith("refused"), entry.outcome
        assert AuditEntry.objects.count() == audited + len(refusals)
        assert list(MarginCall.objects.values()) == before  # nothing a refused request sent was applied
        assert not Order.objects.exclude(status="pending").exists()  # no order placed, none cancelled
        assert Order.objects.count() == len(data.get("orders", []))


def test_desk_owned_records_are_narrowed_to_the_users_desks_in_one_place(book, trader, desk_trader):
    from book.models import Account

    hk2 = set(Account.objects.filter(desk__code="HK2").values_list("account_no", flat=True))
    assert "T2" in hk2
    assert "M100001" not in hk2
    assert set(Account.objects.visible_to(trader).values_list("account_no", flat=True)) == set(
        Account.objects.values_list("account_no", flat=True)
    )
    assert set(Account.objects.visible_to(desk_trader).values_list("account_no", flat=True)) == hk2
    called = set(MarginCall.objects.visible_to(desk_trader).values_list("account__account_no", flat=True))
    assert "T2" in called
    assert called <= hk2
    # Narrowing composes with any other filter, in either order.
    assert not MarginCall.objects.filter(account__account_no="M100001").visible_to(desk_trader).exists()
