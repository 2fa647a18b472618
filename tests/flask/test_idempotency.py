"""``Idempotency-Key`` on POST /api/orders and /api/payments: one key, one outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from eventhive_core.adapters.fake_payments import FakePaymentGateway
from eventhive_core.testing.fakes import FrozenClock
from eventhive_flask.idempotency import IN_FLIGHT_LEASE, request_fingerprint
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of


def test_the_same_key_replays_the_first_order_instead_of_placing_another(api: Api) -> None:
    ticket = api.ticket(api.user(), capacity=5)
    buyer = api.user()
    headers = {"Idempotency-Key": "order-1"}

    first = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers=headers)
    second = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(buyer.get("/api/orders").get_json()) == 1


def test_the_same_key_on_a_payment_charges_once(api: Api, gateway: FakePaymentGateway) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    body = {"orderId": order["id"], "token": "tok_visa"}

    responses = [buyer.post("/api/payments", json=body, headers={"Idempotency-Key": "pay-1"}) for _ in range(3)]

    assert {r.status_code for r in responses} == {201}
    assert len({r.get_json()["id"] for r in responses}) == 1
    assert len(gateway.charges) == 1


def test_the_same_key_with_another_body_is_refused_with_422(api: Api) -> None:
    seller = api.user()
    one, two = api.ticket(seller, title="one"), api.ticket(seller, title="two")
    buyer = api.user()
    buyer.post("/api/orders", json={"ticketId": one["id"]}, headers={"Idempotency-Key": "k"})

    response = buyer.post("/api/orders", json={"ticketId": two["id"]}, headers={"Idempotency-Key": "k"})

    assert response.status_code == 422
    assert messages_of(response) == ["This Idempotency-Key was used with a different request; use a new key"]
    assert len(buyer.get("/api/orders").get_json()) == 1


def test_the_same_key_from_another_user_is_their_own(api: Api) -> None:
    ticket = api.ticket(api.user(), capacity=2)
    ann, bob = api.user(), api.user()

    by_ann = ann.post("/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "same"})
    by_bob = bob.post("/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "same"})

    assert by_ann.status_code == by_bob.status_code == 201
    assert by_ann.get_json()["id"] != by_bob.get_json()["id"]


class ReentrantGateway(FakePaymentGateway):
    """A provider that, while charging, lets the test send a duplicate request."""

    during_charge: Callable[[], None] | None = None

    def charge(self, **kwargs: Any) -> Any:
        if self.during_charge is not None:
            self.during_charge()
        return super().charge(**kwargs)


def test_a_duplicate_while_the_first_is_still_running_gets_409(clock: FrozenClock) -> None:
    gateway = ReentrantGateway()
    api = Api.build(clock=clock, gateway=gateway)
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    body = {"orderId": order["id"], "token": "tok_visa"}
    seen: list[Any] = []
    gateway.during_charge = lambda: seen.append(
        buyer.post("/api/payments", json=body, headers={"Idempotency-Key": "p"})
    )

    first = buyer.post("/api/payments", json=body, headers={"Idempotency-Key": "p"})

    assert first.status_code == 201
    assert [r.status_code for r in seen] == [409]
    assert messages_of(seen[0]) == ["A request with this Idempotency-Key is still being processed; retry later"]
    assert len(gateway.charges) == 1
    api.hive.close()


def test_refusals_are_replayed_but_retryable_failures_are_not_stored(api: Api, gateway: FakePaymentGateway) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    unreachable = {"orderId": order["id"], "token": "tok_unreachable"}

    first = buyer.post("/api/payments", json=unreachable, headers={"Idempotency-Key": "u"})
    again = buyer.post("/api/payments", json=unreachable, headers={"Idempotency-Key": "u"})

    assert first.status_code == again.status_code == 502
    assert "Idempotent-Replayed" not in again.headers  # a 5xx is not stored: the retry really ran

    declined = {"orderId": order["id"], "token": "tok_chargeDeclined"}
    refused = buyer.post("/api/payments", json=declined, headers={"Idempotency-Key": "d"})
    replayed = buyer.post("/api/payments", json=declined, headers={"Idempotency-Key": "d"})
    assert refused.status_code == replayed.status_code == 400
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert [c.token for c in gateway.charges] == ["tok_chargeDeclined"]


def test_an_order_placed_with_a_key_is_its_answer_even_after_the_replay_window(make_api: Callable[..., Api]) -> None:
    # The key is recorded on the order itself, so it answers for as long as the order exists.
    api = make_api(EVENTHIVE_IDEMPOTENCY_TTL=600)
    ticket = api.ticket(api.user(), capacity=3)
    buyer = api.user()
    first = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "k"})
    api.clock.advance(seconds=601)

    later = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "k"})

    assert later.status_code == 201
    assert later.headers["Idempotent-Replayed"] == "true"
    assert later.get_json()["id"] == first.get_json()["id"]
    assert len(buyer.get("/api/orders").get_json()) == 1


def test_a_refused_order_is_refused_again_under_its_key_until_the_replay_window_ends(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(EVENTHIVE_IDEMPOTENCY_TTL=600)
    ticket = api.ticket(api.user())
    holder, buyer = api.user(), api.user()
    held = api.order(holder, ticket["id"])
    body, headers = {"ticketId": ticket["id"]}, {"Idempotency-Key": "k"}

    refused = buyer.post("/api/orders", json=body, headers=headers)
    assert holder.delete(f"/api/orders/{held['id']}").status_code == 204
    replayed = buyer.post("/api/orders", json=body, headers=headers)
    api.clock.advance(seconds=601)
    later = buyer.post("/api/orders", json=body, headers=headers)

    assert refused.status_code == replayed.status_code == 400
    assert replayed.get_json() == refused.get_json() == {"errors": [{"message": "Ticket is already reserved"}]}
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in refused.headers
    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later.headers


def test_keys_of_orders_and_of_payments_are_separate(api: Api, gateway: FakePaymentGateway) -> None:
    buyer = api.user()
    ticket = api.ticket(api.user())
    headers = {"Idempotency-Key": "shared"}

    order = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers=headers)
    pay = {"orderId": order.get_json()["id"], "token": "tok_visa"}
    payment = buyer.post("/api/payments", json=pay, headers=headers)

    assert order.status_code == payment.status_code == 201
    assert "Idempotent-Replayed" not in payment.headers
    assert len(gateway.charges) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space"])
def test_a_malformed_key_is_a_field_error(api: Api, key: str) -> None:
    buyer = api.user()

    response = buyer.post("/api/orders", json={"ticketId": "x"}, headers={"Idempotency-Key": key})

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_key_does_not_let_an_anonymous_caller_in(api: Api) -> None:
    response = api.client().post("/api/orders", json={"ticketId": "x"}, headers={"Idempotency-Key": "k"})

    assert response.status_code == 401


def test_a_key_whose_first_request_died_mid_way_runs_again_after_the_lease(
    make_api: Callable[..., Api], gateway: FakePaymentGateway
) -> None:
    api = make_api(EVENTHIVE_RESERVATION_TTL=600)
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    body = {"orderId": order["id"], "token": "tok_visa"}
    with api.app.test_request_context("/api/payments", method="POST", json=body):
        fingerprint = request_fingerprint()
    now = api.clock.now()
    with api.hive.uow() as uow:  # what a worker killed mid-request leaves behind
        uow.idempotency.begin(buyer.user_id, "k", fingerprint, now, now + timedelta(days=1))  # type: ignore[attr-defined]
        uow.commit()

    while_recent = buyer.post("/api/payments", json=body, headers={"Idempotency-Key": "k"})
    api.clock.advance(IN_FLIGHT_LEASE + timedelta(seconds=1))
    after_lease = buyer.post("/api/payments", json=body, headers={"Idempotency-Key": "k"})

    assert while_recent.status_code == 409
    assert after_lease.status_code == 201
    assert len(gateway.charges) == 1
