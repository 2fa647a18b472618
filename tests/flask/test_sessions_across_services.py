"""Two apps as two services: ``auth`` signs with the private key, ``orders`` verifies with the public key alone.

Over HTTP, a token signed out on auth, or a user banned there, is refused by orders exactly as a
revoked token or a banned user is refused today (401, the usual error body; ``currentUser: null``)
once auth's event has been delivered to orders. (docs/concepts/sessions-and-bans.md)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventhive_core import BanUser
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_flask import EventHive
from eventhive_flask.testing import TEST_PASSWORD, make_test_app

PRIVATE_KEY, PUBLIC_KEY = generate_ed25519_keypair()
NOT_AUTHORIZED = {"errors": [{"message": "Not authorized"}]}


@dataclass
class Services:
    auth: Flask
    orders: Flask
    auth_bus: RecordingBus
    orders_bus: RecordingBus

    def deliver_auth_events_to_orders(self) -> None:
        EventHive.hive_for(self.auth).relay_outbox()
        for message in self.auth_bus.published:
            if message not in self.orders_bus.published:
                self.orders_bus.publish(message)
        self.orders_bus.deliver_pending()


@pytest.fixture
def services() -> Iterator[Services]:
    clock = FrozenClock()
    auth_bus, orders_bus = RecordingBus(), RecordingBus()
    auth = make_test_app(
        clock=clock,
        overrides={"event_bus": auth_bus},
        EVENTHIVE_JWT_ALGORITHM="EdDSA",
        EVENTHIVE_JWT_PRIVATE_KEY=PRIVATE_KEY,
    )
    orders = make_test_app(
        clock=clock,
        overrides={"event_bus": orders_bus},
        EVENTHIVE_JWT_ALGORITHM="EdDSA",
        EVENTHIVE_JWT_PUBLIC_KEY=PUBLIC_KEY,
        EVENTHIVE_DENYLIST_ROLE="orders",
    )
    yield Services(auth, orders, auth_bus, orders_bus)
    for app in (auth, orders):
        EventHive.hive_for(app).close()


def bearer_token(client: FlaskClient, email: str) -> str:
    assert client.post("/api/users/signup", json={"email": email, "password": TEST_PASSWORD}).status_code == 201
    response = client.post("/api/users/tokens", json={"email": email, "password": TEST_PASSWORD})
    return str(response.get_json()["token"])


def as_bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_orders_knows_the_caller_from_a_token_auth_signed(services: Services) -> None:
    token = bearer_token(services.auth.test_client(), "ann@example.com")

    response = services.orders.test_client().get("/api/users/currentuser", headers=as_bearer(token))

    assert response.get_json()["currentUser"]["email"] == "ann@example.com"
    assert services.orders.test_client().get("/api/orders", headers=as_bearer(token)).status_code == 200


def test_a_token_signed_out_on_auth_gets_401_from_orders_after_one_delivery(services: Services) -> None:
    auth = services.auth.test_client()
    token = bearer_token(auth, "ann@example.com")
    orders = services.orders.test_client()

    assert auth.post("/api/users/signout", headers=as_bearer(token)).status_code == 200
    services.deliver_auth_events_to_orders()

    refused = orders.get("/api/orders", headers=as_bearer(token))
    assert (refused.status_code, refused.get_json()) == (401, NOT_AUTHORIZED)
    assert orders.get("/api/users/currentuser", headers=as_bearer(token)).get_json() == {"currentUser": None}


def test_a_user_banned_on_auth_gets_401_from_orders_on_the_next_request_after_one_delivery(
    services: Services,
) -> None:
    token = bearer_token(services.auth.test_client(), "ann@example.com")
    orders = services.orders.test_client()
    assert orders.get("/api/orders", headers=as_bearer(token)).status_code == 200

    EventHive.hive_for(services.auth).handle(BanUser(email="ann@example.com"))
    services.deliver_auth_events_to_orders()

    refused = orders.get("/api/orders", headers=as_bearer(token))
    assert (refused.status_code, refused.get_json()) == (401, NOT_AUTHORIZED)


def test_orders_will_not_sign_anyone_up(services: Services) -> None:
    response = services.orders.test_client().post(
        "/api/users/signup", json={"email": "ann@example.com", "password": TEST_PASSWORD}
    )

    assert response.status_code == 500
