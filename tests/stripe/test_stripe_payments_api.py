"""Paying through the JSON API with the real stripe SDK against the project's Stripe stand-in.

Every path of issue "exactly one charge per order" is driven here end to end: the API, the
payments service, the Stripe gateway, the SDK over HTTP, and Stripe's own idempotency rules as the
stand-in enforces them. The stand-in's ``money_taken()`` is the ledger each test checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from eventhive_core import TransientStorageError
from eventhive_core.ports.storage import Storage, UnitOfWork
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.stripe_stand_in import StripeStandIn
from eventhive_flask.testing import ApiHarness, messages_of

pytest.importorskip("stripe", reason='needs the stripe extra: pip install -e ".[stripe]"')

WEBHOOK = "/api/payments/webhooks/stripe"


@pytest.fixture
def make_api(stripe_gateway: Any) -> Iterator[Callable[..., ApiHarness]]:
    built: list[ApiHarness] = []

    def build(**config: Any) -> ApiHarness:
        harness = ApiHarness.build(clock=FrozenClock(), gateway=stripe_gateway, **config)
        built.append(harness)
        return harness

    yield build
    for harness in built:
        harness.hive.close()


@pytest.fixture
def api(make_api: Callable[..., ApiHarness]) -> ApiHarness:
    return make_api()


def order_for(api: ApiHarness, price: object = 20, **extra: object) -> tuple[FlaskClient, dict[str, Any]]:
    """A buyer and their new order of a fresh ticket of a fresh seller."""
    buyer = api.user()
    return buyer, api.order(buyer, api.ticket(api.user(), price=price, **extra)["id"])


def pay(buyer: FlaskClient, order: dict[str, Any], token: str, **headers: str) -> Any:
    return buyer.post("/api/payments", json={"orderId": order["id"], "token": token}, headers=headers)


def status_of(buyer: FlaskClient, order: dict[str, Any]) -> str:
    return str(buyer.get(f"/api/orders/{order['id']}").get_json()["status"])


def deliver(api: ApiHarness, stand_in: StripeStandIn, event: dict[str, Any], **signing: Any) -> Any:
    body, headers = stand_in.webhook(event, **signing)
    return api.client().post(WEBHOOK, data=body, headers=headers)


def event_for(stand_in: StripeStandIn, event_type: str, pi_id: str) -> dict[str, Any]:
    found = [e for e in stand_in.events if e["type"] == event_type and e["data"]["object"].get("id") == pi_id]
    assert found, f"no {event_type} for {pi_id}"
    return found[-1]


def intents(stand_in: StripeStandIn) -> list[str]:
    return [pi["status"] for pi in stand_in.payment_intents]


# --- the plain paths ---------------------------------------------------------------------------


def test_a_good_card_pays_once_completes_the_order_and_publishes_payment_created(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api, price="20.00")

    response = pay(buyer, order, "pm_card_visa")

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "succeeded"
    assert body["stripeId"].startswith("pi_")
    assert "clientSecret" not in body
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    (intent,) = stripe_stand_in.payment_intents
    assert (intent["amount"], intent["currency"], intent["id"]) == (2000, "usd", body["stripeId"])
    assert intent["metadata"] == {"order_id": order["id"], "payment_id": body["id"]}
    assert [e.data["order_id"] for e in api.published().of_type("payment:created")] == [order["id"]]


def test_the_original_clients_checkout_token_pays_through_payment_method_data(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)

    assert pay(buyer, order, "tok_visa").status_code == 201

    (create, *_) = [r for r in stripe_stand_in.requests if r.path == "/v1/payment_intents"]
    assert create.params["payment_method_data"] == {"type": "card", "card": {"token": "tok_visa"}}
    assert stripe_stand_in.money_taken() == 2000


def test_a_declined_card_shows_stripes_message_and_another_card_is_charged_once(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)

    declined = pay(buyer, order, "pm_card_chargeDeclinedInsufficientFunds")

    assert declined.status_code == 400
    assert messages_of(declined) == ["Your card has insufficient funds."]
    assert status_of(buyer, order) == "created"
    assert pay(buyer, order, "pm_card_visa").status_code == 201
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    # The declined PaymentIntent was cancelled before the new one, so it can never be completed later.
    assert intents(stripe_stand_in) == ["canceled", "succeeded"]


def test_a_card_asking_for_3d_secure_waits_then_the_webhook_completes_the_order(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)

    pending = pay(buyer, order, "pm_card_threeDSecure2Required")

    assert pending.status_code == 201
    body = pending.get_json()
    assert body["status"] == "pending"
    assert body["clientSecret"].startswith(f"{body['stripeId']}_secret_")
    assert status_of(buyer, order) == "awaiting:payment"
    stripe_stand_in.authenticate(body["stripeId"])
    delivered = deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.succeeded"))
    assert (delivered.status_code, delivered.get_json()) == (200, {"received": True, "outcome": "applied"})
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert len(api.published().of_type("payment:created")) == 1


def test_paying_again_with_the_same_card_while_3d_secure_waits_gives_the_same_client_secret(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    first = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()

    again = pay(buyer, order, "pm_card_threeDSecure2Required")

    assert again.status_code == 201
    assert (again.get_json()["clientSecret"], again.get_json()["id"]) == (first["clientSecret"], first["id"])
    assert len(stripe_stand_in.payment_intents) == 1


# --- lost answers and retries ------------------------------------------------------------------


def test_a_lost_answer_leaves_the_order_payable_and_the_retry_charges_once(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    stripe_stand_in.drop_responses("/confirm")

    lost = pay(buyer, order, "pm_card_visa")

    assert lost.status_code == 502
    assert messages_of(lost) == ["The payment provider is unavailable; try again shortly"]
    assert status_of(buyer, order) == "awaiting:payment"
    assert stripe_stand_in.money_taken() == 2000  # Stripe took it; only the answer was lost
    retried = pay(buyer, order, "pm_card_visa")
    assert retried.status_code == 201
    assert retried.get_json()["status"] == "succeeded"
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert len(stripe_stand_in.payment_intents) == 1
    assert any(r.replayed for r in stripe_stand_in.requests), "the retry must reuse the attempt's keys"


def test_a_lost_answer_then_another_card_settles_with_the_money_already_taken(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    stripe_stand_in.drop_responses("/confirm")
    assert pay(buyer, order, "pm_card_visa").status_code == 502

    other = pay(buyer, order, "pm_card_mastercard")

    assert other.status_code == 400
    assert messages_of(other) == ["Order is already paid"]
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert len(stripe_stand_in.payment_intents) == 1


def test_a_lost_creation_then_another_card_starts_a_new_attempt_and_charges_once(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    stripe_stand_in.drop_responses("/v1/payment_intents")  # the creation: no money can move yet
    assert pay(buyer, order, "pm_card_visa").status_code == 502

    assert pay(buyer, order, "pm_card_mastercard").status_code == 201

    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert intents(stripe_stand_in) == ["requires_confirmation", "succeeded"]


def test_stripe_unreachable_is_a_502_in_the_error_shape_and_the_order_stays_payable(
    make_api: Callable[..., ApiHarness], stripe_stand_in: StripeStandIn
) -> None:
    from eventhive_core.adapters.stripe_gateway import StripeGateway

    port = int(stripe_stand_in.url.rsplit(":", 1)[1])
    stripe_stand_in.close()
    gateway = StripeGateway(
        secret_key=stripe_stand_in.api_key,
        webhook_secret=stripe_stand_in.webhook_secret,
        api_base=f"http://127.0.0.1:{port}",
        max_network_retries=0,
        timeout=5,
    )
    api = ApiHarness.build(clock=FrozenClock(), gateway=gateway)
    try:
        buyer, order = order_for(api)

        response = pay(buyer, order, "pm_card_visa")

        assert response.status_code == 502
        assert messages_of(response) == ["The payment provider is unavailable; try again shortly"]
        with StripeStandIn(port=port) as back:
            assert pay(buyer, order, "pm_card_visa").status_code == 201
            assert back.money_taken() == 2000
        assert status_of(buyer, order) == "complete"
    finally:
        api.hive.close()


def test_two_pays_racing_with_different_cards_charge_once_and_the_second_gets_409(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    other_tab = api.app.test_client()
    other_tab.set_cookie("eventhive", buyer.get_cookie("eventhive").value)  # type: ignore[union-attr]
    stripe_stand_in.slow_down("/confirm", 1.0)
    first: list[Any] = []
    racer = threading.Thread(target=lambda: first.append(pay(buyer, order, "pm_card_visa")))
    racer.start()
    deadline = time.monotonic() + 5
    while not any(r.path.endswith("/v1/payment_intents") for r in stripe_stand_in.requests):
        assert time.monotonic() < deadline, "the first payment never reached Stripe"
        time.sleep(0.01)

    second = pay(other_tab, order, "pm_card_mastercard")
    racer.join(timeout=10)

    assert second.status_code == 409
    assert messages_of(second) == ["A payment for this order is in progress"]
    assert first[0].status_code == 201
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert len(stripe_stand_in.payment_intents) == 1


# --- attempts given up, and late money ---------------------------------------------------------


def test_switching_cards_during_3d_secure_cancels_the_first_intent_and_charges_the_second(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()

    assert pay(buyer, order, "pm_card_visa").status_code == 201

    assert stripe_stand_in.payment_intent(waiting["stripeId"])["status"] == "canceled"
    assert stripe_stand_in.money_taken() == 2000
    assert status_of(buyer, order) == "complete"


def test_a_3d_secure_passed_just_before_switching_cards_pays_the_order_and_nothing_more(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    stripe_stand_in.authenticate(waiting["stripeId"])  # its webhook has not arrived yet

    switched = pay(buyer, order, "pm_card_visa")

    assert switched.status_code == 400
    assert messages_of(switched) == ["Order is already paid"]
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    late = deliver(api, stripe_stand_in, event_for(stripe_stand_in, "payment_intent.succeeded", waiting["stripeId"]))
    assert late.status_code == 200
    assert stripe_stand_in.money_taken() == 2000
    assert len(api.published().of_type("payment:created")) == 1


def test_an_abandoned_3d_secure_completed_after_the_hold_ran_out_is_refunded(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    api.clock.advance(seconds=61)
    api.hive.sweep()
    assert status_of(buyer, order) == "cancelled"

    stripe_stand_in.authenticate(waiting["stripeId"])
    delivered = deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.succeeded"))

    assert delivered.status_code == 200
    assert stripe_stand_in.money_taken() == 0
    assert [r["payment_intent"] for r in stripe_stand_in.refunds] == [waiting["stripeId"]]
    assert status_of(buyer, order) == "cancelled"
    refunded = api.published().of_type("payment:refunded")
    assert [(e.data["id"], e.data["reason"]) for e in refunded] == [(waiting["id"], "order_not_live")]
    assert api.client().get(f"/api/tickets/{order['ticket']['id']}").get_json()["available"] == 1


def test_money_for_an_order_another_payment_completed_is_refunded_even_when_late_payments_are_accepted(
    make_api: Callable[..., ApiHarness], stripe_stand_in: StripeStandIn
) -> None:
    import stripe

    api = make_api(EVENTHIVE_LATE_PAYMENT_POLICY="accept_if_available")
    buyer, order = order_for(api, capacity=2)
    stripe_stand_in.drop_responses("/v1/payment_intents")  # attempt 1: its creation's answer is lost
    assert pay(buyer, order, "pm_card_visa").status_code == 502
    assert pay(buyer, order, "pm_card_mastercard").status_code == 201  # attempt 2 completes the order
    forgotten = stripe_stand_in.payment_intents[0]["id"]
    # Attempt 1's PaymentIntent is confirmed after all (as a delayed duplicate of a request might).
    client = stripe.StripeClient(stripe_stand_in.api_key, base_addresses={"api": stripe_stand_in.url})
    client.v1.payment_intents.confirm(forgotten, {"return_url": "https://shop.example/"})
    assert stripe_stand_in.money_taken() == 4000

    delivered = deliver(api, stripe_stand_in, event_for(stripe_stand_in, "payment_intent.succeeded", forgotten))

    assert delivered.status_code == 200
    assert stripe_stand_in.money_taken() == 2000
    assert [r["payment_intent"] for r in stripe_stand_in.refunds] == [forgotten]
    # Not kept as a second order, although a unit is free and the policy accepts late money.
    assert [o["id"] for o in buyer.get("/api/orders").get_json()] == [order["id"]]
    assert api.client().get(f"/api/tickets/{order['ticket']['id']}").get_json()["available"] == 1
    assert [e.data["reason"] for e in api.published().of_type("payment:refunded")] == ["attempt_abandoned"]


def test_a_failure_webhook_for_a_superseded_attempt_is_ignored(api: ApiHarness, stripe_stand_in: StripeStandIn) -> None:
    buyer, order = order_for(api)
    first = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    stripe_stand_in.authenticate(first["stripeId"], succeed=False)  # its failure webhook is still on its way
    second = pay(buyer, order, "pm_card_authenticationRequired").get_json()
    assert second["status"] == "pending"
    assert second["id"] != first["id"]

    stale = deliver(
        api, stripe_stand_in, event_for(stripe_stand_in, "payment_intent.payment_failed", first["stripeId"])
    )

    assert stale.status_code == 200
    assert status_of(buyer, order) == "awaiting:payment"
    stripe_stand_in.authenticate(second["stripeId"])
    assert deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.succeeded")).status_code == 200
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000


def test_a_failure_webhook_for_the_current_attempt_reopens_the_order(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    stripe_stand_in.authenticate(waiting["stripeId"], succeed=False)

    assert deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.payment_failed")).status_code == 200

    assert status_of(buyer, order) == "created"
    assert pay(buyer, order, "pm_card_visa").status_code == 201
    assert stripe_stand_in.money_taken() == 2000


# --- refunds ------------------------------------------------------------------------------------


def test_the_seller_refunds_a_complete_order_which_is_cancelled_and_its_units_freed(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    seller, buyer = api.user(), api.user()
    ticket = api.ticket(seller, price=20)
    order = api.order(buyer, ticket["id"])
    assert pay(buyer, order, "pm_card_visa").status_code == 201

    refunded = seller.post(f"/api/orders/{order['id']}/refund", json={})

    assert refunded.status_code == 200
    assert (refunded.get_json()["id"], refunded.get_json()["status"]) == (order["id"], "cancelled")
    assert stripe_stand_in.money_taken() == 0
    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["available"] == 1
    events = api.published()
    assert [e.data["reason"] for e in events.of_type("payment:refunded")] == ["seller"]
    assert [(e.data["reason"], e.version) for e in events.of_type("order:cancelled")] == [("refunded", 2)]
    # Stripe reports the refund back: it is ours, so nothing is published twice.
    for event_type in ("charge.refunded", "refund.created"):
        assert deliver(api, stripe_stand_in, stripe_stand_in.last_event(event_type)).status_code == 200
    assert len(api.published().of_type("payment:refunded")) == 1
    again = seller.post(f"/api/orders/{order['id']}/refund", json={})
    assert (again.status_code, messages_of(again)) == (400, ["Only a complete order can be refunded"])
    assert len(stripe_stand_in.refunds) == 1


def test_only_the_tickets_seller_may_refund_and_only_a_complete_order(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    seller, buyer = api.user(), api.user()
    order = api.order(buyer, api.ticket(seller)["id"])

    unpaid = seller.post(f"/api/orders/{order['id']}/refund", json={})
    assert (unpaid.status_code, messages_of(unpaid)) == (400, ["Only a complete order can be refunded"])
    assert pay(buyer, order, "pm_card_visa").status_code == 201
    for someone in (buyer, api.user(), api.client()):
        refused = someone.post(f"/api/orders/{order['id']}/refund", json={})
        assert (refused.status_code, messages_of(refused)) == (401, ["Not authorized"])
    assert seller.post("/api/orders/not-an-id/refund", json={}).status_code == 404
    assert stripe_stand_in.refunds == []
    assert status_of(buyer, order) == "complete"


def test_a_dashboard_refund_is_recorded_once_and_the_order_stays_complete_until_the_seller_decides(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    seller, buyer = api.user(), api.user()
    ticket = api.ticket(seller)
    order = api.order(buyer, ticket["id"])
    paid = pay(buyer, order, "pm_card_visa").get_json()

    stripe_stand_in.dashboard_refund(paid["stripeId"])
    for event_type in ("charge.refunded", "refund.created", "charge.refunded"):
        assert deliver(api, stripe_stand_in, stripe_stand_in.last_event(event_type)).status_code == 200

    assert status_of(buyer, order) == "complete"
    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["available"] == 0
    with api.hive.uow() as uow:
        assert [p.status for p in uow.payments.for_order(order["id"])] == ["refunded"]
    assert [e.data["reason"] for e in api.published().of_type("payment:refunded")] == ["provider"]
    # The seller then cancels the order: no second refund at Stripe, no second payment:refunded.
    assert seller.post(f"/api/orders/{order['id']}/refund", json={}).status_code == 200
    assert len(stripe_stand_in.refunds) == 1
    assert len(api.published().of_type("payment:refunded")) == 1
    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["available"] == 1


# --- webhooks -----------------------------------------------------------------------------------


def test_a_webhook_with_a_bad_missing_or_stale_signature_is_refused_and_changes_nothing(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    stripe_stand_in.authenticate(waiting["stripeId"])
    event = stripe_stand_in.last_event("payment_intent.succeeded")
    body, headers = stripe_stand_in.webhook(event)

    refusals = [
        stripe_stand_in.webhook(event, secret="whsec_someone_else"),
        stripe_stand_in.webhook(event, timestamp=int(time.time()) - 600),
        (body, {"Content-Type": "application/json"}),
        (body.replace(b"succeeded", b"succeedeD"), headers),
        (b"not json at all", {**headers, "Stripe-Signature": stripe_stand_in.sign(b"not json at all")}),
    ]
    for payload, sent in refusals:
        response = api.client().post(WEBHOOK, data=payload, headers=sent)
        assert response.status_code == 400, payload
        assert messages_of(response) == ["Webhook signature verification failed"]
        assert status_of(buyer, order) == "awaiting:payment"

    assert deliver(api, stripe_stand_in, event).status_code == 200
    assert status_of(buyer, order) == "complete"


def test_a_redelivered_webhook_is_a_no_op(api: ApiHarness, stripe_stand_in: StripeStandIn) -> None:
    buyer, order = order_for(api)
    waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
    stripe_stand_in.authenticate(waiting["stripeId"])
    event = stripe_stand_in.last_event("payment_intent.succeeded")

    outcomes = [deliver(api, stripe_stand_in, event).get_json()["outcome"] for _ in range(3)]

    assert outcomes == ["applied", "duplicate", "duplicate"]
    assert len(api.published().of_type("payment:created")) == 1


def test_a_webhook_before_the_synchronous_answer_ends_in_the_same_state(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    answers: list[int] = []

    def deliver_now(event: dict[str, Any]) -> None:
        if event["type"] == "payment_intent.succeeded":
            answers.append(deliver(api, stripe_stand_in, event).status_code)
            assert status_of(buyer, order) == "complete"  # settled before the buyer's request returns

    stripe_stand_in.deliver_events(deliver_now)

    response = pay(buyer, order, "pm_card_visa")

    assert answers == [200]
    assert response.status_code == 201
    assert response.get_json()["status"] == "succeeded"
    assert status_of(buyer, order) == "complete"
    assert stripe_stand_in.money_taken() == 2000
    assert len(api.published().of_type("payment:created")) == 1


def test_a_webhook_after_the_synchronous_answer_changes_nothing(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api)
    paid = pay(buyer, order, "pm_card_visa").get_json()

    late = deliver(api, stripe_stand_in, event_for(stripe_stand_in, "payment_intent.succeeded", paid["stripeId"]))

    assert (late.status_code, late.get_json()["outcome"]) == (200, "applied")
    assert status_of(buyer, order) == "complete"
    assert len(api.published().of_type("payment:created")) == 1
    with api.hive.uow() as uow:
        assert [p.status for p in uow.payments.for_order(order["id"])] == ["succeeded"]


def test_a_verified_webhook_about_an_unknown_payment_or_another_event_type_is_acknowledged(
    api: ApiHarness, stripe_stand_in: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    import stripe

    client = stripe.StripeClient(stripe_stand_in.api_key, base_addresses={"api": stripe_stand_in.url})
    client.v1.payment_intents.create(
        {"amount": 999, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True, "return_url": "x"}
    )

    unknown = deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.succeeded"))
    other = deliver(api, stripe_stand_in, stripe_stand_in.last_event("payment_intent.created"))

    assert (unknown.status_code, unknown.get_json()["outcome"]) == (200, "ignored")
    assert (other.status_code, other.get_json()["outcome"]) == (200, "ignored")
    assert "about an unknown payment" in caplog.text


def test_a_webhook_for_another_provider_is_not_found(api: ApiHarness, stripe_stand_in: StripeStandIn) -> None:
    assert api.client().post("/api/payments/webhooks/fake", data=b"{}").status_code == 404


class FlakyStorage:
    """The real storage, but the next ``failures`` units of work fail as a busy database would."""

    def __init__(self, inner: Storage, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    def unit_of_work(self) -> UnitOfWork:
        if self.failures > 0:
            self.failures -= 1
            raise TransientStorageError()
        return self._inner.unit_of_work()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_storage_failure_answers_a_5xx_so_stripe_delivers_the_webhook_again(
    stripe_gateway: Any, stripe_stand_in: StripeStandIn
) -> None:
    from eventhive_core.adapters.memory import MemoryStorage

    flaky = FlakyStorage(MemoryStorage(), failures=0)
    api = ApiHarness.build(clock=FrozenClock(), gateway=stripe_gateway, storage=flaky)  # type: ignore[arg-type]
    try:
        buyer, order = order_for(api)
        waiting = pay(buyer, order, "pm_card_threeDSecure2Required").get_json()
        stripe_stand_in.authenticate(waiting["stripeId"])
        event = stripe_stand_in.last_event("payment_intent.succeeded")
        flaky.failures = 10

        failed = deliver(api, stripe_stand_in, event)

        assert failed.status_code == 503
        flaky.failures = 0
        assert status_of(buyer, order) == "awaiting:payment"
        assert deliver(api, stripe_stand_in, event).get_json()["outcome"] == "applied"
        assert status_of(buyer, order) == "complete"
    finally:
        api.hive.close()


# --- amounts, keys and configuration -----------------------------------------------------------


def test_an_amount_below_stripes_minimum_is_a_400_naming_the_minimum_and_reaches_no_one(
    api: ApiHarness, stripe_stand_in: StripeStandIn
) -> None:
    buyer, order = order_for(api, price="0.01")

    response = pay(buyer, order, "pm_card_visa")

    assert response.status_code == 400
    assert messages_of(response) == ["The amount is below the payment provider's minimum charge of 0.50 USD"]
    assert stripe_stand_in.requests == []
    assert status_of(buyer, order) == "created"


def test_no_secret_ever_reaches_a_log_line_or_an_answer(
    make_api: Callable[..., ApiHarness], stripe_stand_in: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    from eventhive_core.adapters.stripe_gateway import StripeGateway

    caplog.set_level("DEBUG")
    wrong_key = "sk_test_this-key-is-not-known-to-the-stand-in-0123456789"
    gateway = StripeGateway(
        secret_key=wrong_key,
        webhook_secret="whsec_not_the_real_one",
        api_base=stripe_stand_in.url,
        max_network_retries=0,
    )
    api = ApiHarness.build(clock=FrozenClock(), gateway=gateway)
    try:
        buyer, order = order_for(api)
        refused = pay(buyer, order, "pm_card_visa")
        bad_hook = api.client().post(WEBHOOK, data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    finally:
        api.hive.close()

    assert refused.status_code == 502
    assert status_of(buyer, order) == "created"
    assert bad_hook.status_code == 400
    for secret in (wrong_key, wrong_key[8:], "whsec_not_the_real_one"):
        assert secret not in caplog.text
        assert secret not in refused.get_data(as_text=True)
    assert "Stripe refused the API key" in caplog.text
    assert repr(gateway) == "StripeGateway()"


def test_choosing_stripe_without_its_keys_fails_at_start_naming_the_missing_variable() -> None:
    from eventhive_core import ConfigurationError
    from eventhive_flask.testing import make_test_app

    with pytest.raises(ConfigurationError, match=r"needs EVENTHIVE_STRIPE_SECRET_KEY; set it"):
        make_test_app(EVENTHIVE_PAYMENT_PROVIDER="stripe")
    with pytest.raises(ConfigurationError, match=r"needs EVENTHIVE_STRIPE_WEBHOOK_SECRET; set it"):
        make_test_app(EVENTHIVE_PAYMENT_PROVIDER="stripe", EVENTHIVE_STRIPE_SECRET_KEY="sk_test_123")


def test_switching_to_stripe_is_configuration_only(stripe_stand_in: StripeStandIn) -> None:
    api = ApiHarness.build(
        EVENTHIVE_PAYMENT_PROVIDER="stripe",
        EVENTHIVE_STRIPE_SECRET_KEY=stripe_stand_in.api_key,
        EVENTHIVE_STRIPE_PUBLISHABLE_KEY=stripe_stand_in.publishable_key,
        EVENTHIVE_STRIPE_WEBHOOK_SECRET=stripe_stand_in.webhook_secret,
        EVENTHIVE_STRIPE_API_BASE=stripe_stand_in.url,
    )
    try:
        assert api.gateway.name == "stripe"
        buyer, order = order_for(api)
        assert pay(buyer, order, "pm_card_visa").status_code == 201
        assert stripe_stand_in.money_taken() == 2000
    finally:
        api.hive.close()
