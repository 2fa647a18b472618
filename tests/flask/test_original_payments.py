"""The original payments service's tests (reference §9.4), one test per case, with each provider.

Each test runs on the fake provider and on the ``stripe`` provider (the real SDK against the
project's Stripe stand-in): switching providers is configuration only, and both keep the
original's contract. Where the original mocked ``stripe.charges.create`` and read its calls,
these read what each provider recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.ports.messages import Message
from eventhive_core.ports.payments import PaymentGateway
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of


@dataclass(frozen=True)
class Charge:
    token: str
    amount_minor: int
    currency: str
    provider_ref: str


def charges_of(gateway: PaymentGateway, request: pytest.FixtureRequest) -> list[Charge]:
    """What the provider charged, oldest first, whichever provider it is."""
    if isinstance(gateway, FakePaymentGateway):
        return [Charge(c.token, c.amount_minor, c.currency.lower(), c.provider_ref) for c in gateway.charges]
    stand_in = request.getfixturevalue("stripe_stand_in")
    created = [r for r in stand_in.requests if r.method == "POST" and r.path == "/v1/payment_intents"]
    found = []
    for intent, create in zip(stand_in.payment_intents, created, strict=True):
        token = create.params.get("payment_method") or create.params["payment_method_data"]["card"]["token"]
        found.append(Charge(token, intent["amount"], intent["currency"], intent["id"]))
    return found


@pytest.fixture(params=["fake", "stripe"])
def gateway(request: pytest.FixtureRequest) -> Any:
    """Each test runs with the fake provider and with Stripe (on the stand-in)."""
    if request.param == "fake":
        return FakePaymentGateway()
    return request.getfixturevalue("stripe_gateway")


# --- routes/__test__/new.test.ts -----------------------------------------------------------------


def test_returns_a_404_when_purchasing_an_order_that_does_not_exist(api: Api) -> None:
    response = api.user().post("/api/payments", json={"token": "asldkfj", "orderId": str(uuid.uuid4())})

    assert response.status_code == 404
    assert messages_of(response) == ["Not Found"]


def test_returns_a_401_when_purchasing_an_order_that_doesnt_belong_to_the_user(api: Api) -> None:
    order = api.order(api.user(), api.ticket(api.user())["id"])

    response = api.user().post("/api/payments", json={"token": "asldkfj", "orderId": order["id"]})

    assert response.status_code == 401
    assert messages_of(response) == ["Not authorized"]


def test_returns_a_400_when_purchasing_a_cancelled_order(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204

    response = buyer.post("/api/payments", json={"orderId": order["id"], "token": "asdlkfj"})

    assert response.status_code == 400
    assert messages_of(response) == ["Order is already cancelled. Cannot make payment."]


def test_returns_a_201_with_valid_inputs(api: Api, gateway: PaymentGateway, request: pytest.FixtureRequest) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user(), price=20)["id"])

    response = buyer.post("/api/payments", json={"token": "tok_visa", "orderId": order["id"]})

    assert response.status_code == 201
    charges = charges_of(gateway, request)
    assert [(c.token, c.amount_minor, c.currency) for c in charges] == [("tok_visa", 2000, "usd")]
    body = response.get_json()
    assert (body["orderId"], body["stripeId"], body["status"]) == (order["id"], charges[0].provider_ref, "succeeded")
    with api.hive.uow() as uow:
        assert [p.id for p in uow.payments.for_order(order["id"])] == [body["id"]]
    assert buyer.get(f"/api/orders/{order['id']}").get_json()["status"] == "complete"


# --- events/listeners/__test__/order-cancelled-listener.test.ts ----------------------------------


def test_updates_the_status_of_the_order(api: Api, gateway: PaymentGateway, request: pytest.FixtureRequest) -> None:
    """The payments side sees a cancellation at once: paying the cancelled order is refused, nothing charged."""
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    buyer.delete(f"/api/orders/{order['id']}")

    response = buyer.post("/api/payments", json={"token": "tok_visa", "orderId": order["id"]})

    assert messages_of(response) == ["Order is already cancelled. Cannot make payment."]
    assert charges_of(gateway, request) == []


def test_acks_the_order_cancelled_message(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    buyer.delete(f"/api/orders/{order['id']}")
    cancelled = api.published().of_type("order:cancelled")
    assert len(cancelled) == 1
    assert api.pending_events() == 0

    api.hive.bus.publish(Message(id=str(cancelled[0].id), type=cancelled[0].type, body=cancelled[0].to_json()))

    assert len(api.events.of_type("order:cancelled")) == 1


# --- events/listeners/__test__/order-created-listener.test.ts ------------------------------------


def test_replicates_the_order_info(api: Api, gateway: PaymentGateway, request: pytest.FixtureRequest) -> None:
    """No replica: the charge is the order's amount (price × quantity) in minor units (docs/compatibility.md#money)."""
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user(), price="10.10", capacity=3)["id"], quantity=2)

    buyer.post("/api/payments", json={"token": "tok_visa", "orderId": order["id"]})

    assert [c.amount_minor for c in charges_of(gateway, request)] == [2020]


def test_acks_the_order_created_message_for_payments(api: Api) -> None:
    order = api.order(api.user(), api.ticket(api.user())["id"])

    created = api.published().of_type("order:created")

    assert [e.data["id"] for e in created] == [order["id"]]
    assert api.pending_events() == 0
