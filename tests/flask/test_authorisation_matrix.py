"""Every route × {anonymous, another user, the owner}: the status each gets, and refusals change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import errors_of


@dataclass
class World:
    api: Api
    seller: FlaskClient
    buyer: FlaskClient
    stranger: FlaskClient
    free_ticket: dict[str, Any]
    held_ticket: dict[str, Any]
    order: dict[str, Any]
    paid_order: dict[str, Any]

    def snapshot(self) -> tuple[object, ...]:
        seller_tickets = self.seller.get("/api/tickets?owner=me").get_json()
        buyer_orders = self.buyer.get("/api/orders").get_json()
        gateway: Any = self.api.gateway
        return seller_tickets, buyer_orders, len(gateway.charges), len(gateway.refunds)


@pytest.fixture
def world(api: Api) -> World:
    seller, buyer, stranger = api.user("seller@test.com"), api.user("buyer@test.com"), api.user("stranger@test.com")
    free_ticket = api.ticket(seller, title="free")
    held_ticket = api.ticket(seller, title="held")
    order = api.order(buyer, held_ticket["id"])
    paid_order = api.order(buyer, api.ticket(seller, title="sold")["id"])
    assert buyer.post("/api/payments", json={"orderId": paid_order["id"], "token": "tok_visa"}).status_code == 201
    return World(api, seller, buyer, stranger, free_ticket, held_ticket, order, paid_order)


# (method, path, body, who owns it, expected status for anonymous / another user / the owner)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, tuple[int, int, int]]] = [
    ("GET", "/api/tickets", None, "seller", (200, 200, 200)),
    ("GET", "/api/tickets?owner=me", None, "seller", (401, 200, 200)),
    ("POST", "/api/tickets", {"title": "new", "price": 5}, "seller", (401, 201, 201)),
    ("GET", "/api/tickets/{free}", None, "seller", (200, 200, 200)),
    ("PUT", "/api/tickets/{free}", {"title": "edited", "price": 7}, "seller", (401, 401, 200)),
    # The ticket's owner may not buy it (docs/compatibility.md#own-ticket).
    ("POST", "/api/orders", {"ticketId": "{free}"}, "seller", (401, 201, 400)),
    ("GET", "/api/orders", None, "buyer", (401, 200, 200)),
    ("GET", "/api/orders/{order}", None, "buyer", (401, 401, 200)),
    ("DELETE", "/api/orders/{order}", None, "buyer", (401, 401, 204)),
    ("POST", "/api/payments", {"orderId": "{order}", "token": "tok_visa"}, "buyer", (401, 401, 201)),
    # Only the ticket's seller refunds, and only a complete order.
    ("POST", "/api/orders/{paid}/refund", {}, "seller", (401, 401, 200)),
    ("POST", "/api/orders/{order}/refund", {}, "seller", (401, 401, 400)),
    # The webhook is authenticated by the provider's signature alone: a cookie neither helps nor hurts.
    ("POST", "/api/payments/webhooks/fake", {}, "buyer", (400, 400, 400)),
    ("GET", "/api/users/currentuser", None, "buyer", (200, 200, 200)),
    ("POST", "/api/users/signout", {}, "buyer", (200, 200, 200)),
    ("POST", "/api/users/tokens", {"email": "buyer@test.com", "password": "password"}, "buyer", (200, 200, 200)),
    ("GET", "/api/health", None, "buyer", (200, 200, 200)),
    ("GET", "/api/health/ready", None, "buyer", (200, 200, 200)),
    ("GET", "/api/openapi.json", None, "buyer", (200, 200, 200)),
]

CASES = [
    pytest.param(method, path, body, owner, who, expected[index], id=f"{method} {path} as {who}")
    for method, path, body, owner, expected in ROUTES
    for index, who in enumerate(("anonymous", "another user", "owner"))
]


def _fill(text: str, world: World) -> str:
    text = text.replace("{free}", world.free_ticket["id"]).replace("{order}", world.order["id"])
    return text.replace("{paid}", world.paid_order["id"])


@pytest.mark.parametrize(("method", "path", "body", "owner", "who", "expected"), CASES)
def test_each_route_answers_each_kind_of_caller_as_it_should(
    world: World, method: str, path: str, body: dict[str, Any] | None, owner: str, who: str, expected: int
) -> None:
    client = {
        "anonymous": world.api.client(),
        "another user": world.stranger,
        "owner": world.seller if owner == "seller" else world.buyer,
    }[who]
    payload = None if body is None else {key: _fill(str(value), world) for key, value in body.items()}
    before = world.snapshot()

    response = client.open(_fill(path, world), method=method, json=payload)

    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        errors_of(response)
        assert world.snapshot() == before


def test_lists_show_only_the_callers_own_things(world: World) -> None:
    assert world.stranger.get("/api/orders").get_json() == []
    assert world.stranger.get("/api/tickets?owner=me").get_json() == []
    assert [o["id"] for o in world.buyer.get("/api/orders").get_json()] == [world.order["id"], world.paid_order["id"]]
    assert {t["title"] for t in world.seller.get("/api/tickets?owner=me").get_json()} == {"free", "held", "sold"}
