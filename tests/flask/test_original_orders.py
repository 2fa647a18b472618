"""The original orders service's tests (reference §9.3), one test per case.

The original kept a replica of each ticket in the orders service, fed by events; ours has one
store, so the listener cases check what those replicas were for: an order sees the ticket as it
is now, expiry cancels due orders, and events are delivered once after commit.
"""

from __future__ import annotations

import uuid

import pytest

from eventhive_core import ConcurrencyConflict
from eventhive_core.ports.messages import Message
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of

# --- routes/__test__/new.test.ts -----------------------------------------------------------------


def test_returns_an_error_if_the_ticket_does_not_exist(api: Api) -> None:
    response = api.user().post("/api/orders", json={"ticketId": str(uuid.uuid4())})

    assert response.status_code == 404
    assert messages_of(response) == ["Not Found"]


def test_returns_an_error_if_the_ticket_is_already_reserved(api: Api) -> None:
    ticket = api.ticket(api.user())
    api.order(api.user(), ticket["id"])

    response = api.user().post("/api/orders", json={"ticketId": ticket["id"]})

    assert response.status_code == 400
    assert messages_of(response) == ["Ticket is already reserved"]


def test_reserves_a_ticket(api: Api) -> None:
    ticket = api.ticket(api.user(), title="concert", price=20)
    buyer = api.user()

    response = buyer.post("/api/orders", json={"ticketId": ticket["id"]})

    assert response.status_code == 201
    body = response.get_json()
    assert (body["status"], body["userId"], body["version"], body["quantity"]) == ("created", buyer.user_id, 0, 1)
    assert body["ticket"] == {"id": ticket["id"], "title": "concert", "price": 20, "version": 0}
    assert body["expiresAt"] == "2026-01-01T12:01:00Z"  # the frozen clock + the original's 60 s


def test_emits_an_order_created_event(api: Api) -> None:
    order = api.order(api.user(), api.ticket(api.user())["id"])

    assert [e.data["id"] for e in api.published().of_type("order:created")] == [order["id"]]


# --- routes/__test__/index.test.ts ---------------------------------------------------------------


def test_fetches_orders_for_a_particular_user(api: Api) -> None:
    seller = api.user()
    ticket_one, ticket_two, ticket_three = (api.ticket(seller, title=f"t{n}") for n in range(3))
    user_one, user_two = api.user(), api.user()
    api.order(user_one, ticket_one["id"])
    order_one = api.order(user_two, ticket_two["id"])
    order_two = api.order(user_two, ticket_three["id"])

    response = user_two.get("/api/orders")

    assert response.status_code == 200
    body = response.get_json()
    assert [o["id"] for o in body] == [order_one["id"], order_two["id"]]
    assert [o["ticket"]["id"] for o in body] == [ticket_two["id"], ticket_three["id"]]


# --- routes/__test__/show.test.ts ----------------------------------------------------------------


def test_fetches_the_order(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])

    response = buyer.get(f"/api/orders/{order['id']}")

    assert response.status_code == 200
    assert response.get_json()["id"] == order["id"]


def test_returns_an_error_on_an_invalid_order_id(api: Api) -> None:
    """The original answered 400 "Error: Something went wrong!"; ours 404 (docs/compatibility.md#malformed-ids)."""
    response = api.user().get("/api/orders/123")

    assert response.status_code == 404
    assert messages_of(response) == ["Not Found"]


def test_returns_an_error_if_one_user_tries_to_fetch_another_users_order(api: Api) -> None:
    order = api.order(api.user(), api.ticket(api.user())["id"])

    response = api.user().get(f"/api/orders/{order['id']}")

    assert response.status_code == 401
    assert messages_of(response) == ["Not authorized"]


# --- routes/__test__/delete.test.ts --------------------------------------------------------------


def test_marks_an_order_as_cancelled(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])

    response = buyer.delete(f"/api/orders/{order['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert buyer.get(f"/api/orders/{order['id']}").get_json()["status"] == "cancelled"


def test_emits_an_order_cancelled_event(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])

    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204

    cancelled = api.published().of_type("order:cancelled")
    assert [(e.data["id"], e.data["reason"]) for e in cancelled] == [(order["id"], "buyer")]


# --- events/listeners/__test__/expiration-complete-listener.test.ts ------------------------------


def test_updates_the_order_status_to_cancelled(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    api.clock.advance(seconds=61)

    assert api.hive.sweep() == 1

    assert buyer.get(f"/api/orders/{order['id']}").get_json()["status"] == "cancelled"


def test_an_unpaid_order_past_its_time_reads_as_expired_before_any_expiry_records_it(api: Api) -> None:
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    api.clock.advance(seconds=60)

    shown = buyer.get(f"/api/orders/{order['id']}").get_json()
    (listed,) = buyer.get("/api/orders").get_json()

    assert shown["status"] == listed["status"] == "cancelled"
    assert api.published().of_type("expiration:complete") == []  # reading recorded nothing
    assert api.hive.sweep() == 1  # the sweeper still records the expiry, with its events


def test_emits_an_order_cancelled_event_on_expiry(api: Api) -> None:
    order = api.order(api.user(), api.ticket(api.user())["id"])
    api.clock.advance(seconds=61)
    api.hive.expire(order["id"])

    events = api.published()

    assert [e.data["order_id"] for e in events.of_type("expiration:complete")] == [order["id"]]
    assert [(e.data["id"], e.data["reason"]) for e in events.of_type("order:cancelled")] == [(order["id"], "expired")]


def test_acks_the_expiration_complete_message(api: Api) -> None:
    """A second expiry of the same order changes nothing and publishes nothing (docs/compatibility.md#expiry-final)."""
    order = api.order(api.user(), api.ticket(api.user())["id"])
    api.clock.advance(seconds=61)
    api.hive.expire(order["id"])
    api.published()

    again = api.hive.expire(order["id"])

    assert str(again) == "already_final"
    assert len(api.published().of_type("expiration:complete")) == 1
    assert api.pending_events() == 0


# --- events/listeners/__test__/ticket-created-listener.test.ts -----------------------------------


def test_creates_and_saves_a_ticket(api: Api) -> None:
    """No replica to build: a ticket can be ordered as soon as it is listed, with its title and price."""
    ticket = api.ticket(api.user(), title="concert", price=20)

    order = api.order(api.user(), ticket["id"])

    assert (order["ticket"]["title"], order["ticket"]["price"]) == ("concert", 20)


def test_acks_the_ticket_created_message(api: Api) -> None:
    ticket = api.ticket(api.user())
    created = api.published().of_type("ticket:created")
    assert [e.data["id"] for e in created] == [ticket["id"]]
    assert api.pending_events() == 0

    api.hive.bus.publish(Message(id=str(created[0].id), type=created[0].type, body=created[0].to_json()))

    assert len(api.events.of_type("ticket:created")) == 1


# --- events/listeners/__test__/ticket-updated-listner.test.ts ------------------------------------


def test_finds_updates_and_saves_a_ticket(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, title="concert", price=20)
    updated = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "new concert", "price": 999}).get_json()

    order = api.order(api.user(), ticket["id"])

    assert order["ticket"] == {"id": ticket["id"], "title": "new concert", "price": 999, "version": updated["version"]}


def test_acks_the_ticket_updated_message(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller)
    seller.put(f"/api/tickets/{ticket['id']}", json={"title": "new", "price": 21})

    updated = api.published().of_type("ticket:updated")

    assert [e.data["version"] for e in updated] == [1]
    assert api.pending_events() == 0


def test_does_not_call_ack_if_the_event_has_a_skipped_version_number(api: Api) -> None:
    """Out-of-order replica updates cannot happen here; the matching guarantee is the version guard:
    an edit based on a stale version is refused and changes nothing."""
    seller = api.user()
    ticket = api.ticket(seller)
    with api.hive.uow() as uow:
        stale = uow.tickets.get(ticket["id"])
    seller.put(f"/api/tickets/{ticket['id']}", json={"title": "fresh", "price": 30})

    assert stale is not None
    with api.hive.uow() as uow, pytest.raises(ConcurrencyConflict):
        uow.tickets.save(stale, stale.edited(title="stale"))

    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["title"] == "fresh"
