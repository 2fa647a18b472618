"""The original tickets service's tests (reference §9.2), one test per case.

Model and listener cases become the same guarantees of our single store: the version guard,
the reservation as seen through the API, and events published after commit.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from eventhive_core import ConcurrencyConflict, Money
from eventhive_core.ports.messages import Message
from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import messages_of


def _random_id() -> str:
    return str(uuid.uuid4())


# --- models/__test__/ticket.test.ts --------------------------------------------------------------


def test_implements_optimistic_concurrency_control(api: Api) -> None:
    ticket = api.ticket(api.user(), price=5)
    with api.hive.uow() as uow:
        first = uow.tickets.get(ticket["id"])
        second = uow.tickets.get(ticket["id"])
        assert first is not None
        assert second is not None
        uow.tickets.save(first, first.edited(price=Money(1000)))

        with pytest.raises(ConcurrencyConflict):
            uow.tickets.save(second, second.edited(price=Money(1500)))


def test_increments_the_version_number_on_multiple_saves(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, price=20)
    versions = [ticket["version"]]
    for price in (21, 22):
        versions.append(
            seller.put(f"/api/tickets/{ticket['id']}", json={"title": "concert", "price": price}).json["version"]
        )

    assert versions == [0, 1, 2]


# --- routes/__test__/index.test.ts ---------------------------------------------------------------


def test_can_fetch_a_list_of_tickets(api: Api) -> None:
    seller = api.user()
    for title, price in (("ticket1", 10), ("ticket2", 20), ("ticket3", 30)):
        api.ticket(seller, title=title, price=price)

    response = api.client().get("/api/tickets")

    assert response.status_code == 200
    assert [(t["title"], t["price"]) for t in response.get_json()] == [
        ("ticket1", 10),
        ("ticket2", 20),
        ("ticket3", 30),
    ]


# --- routes/__test__/new.test.ts -----------------------------------------------------------------


def test_has_a_route_handler_listening_to_api_tickets_for_post_requests(api: Api) -> None:
    assert api.client().post("/api/tickets", json={}).status_code != 404


def test_can_only_be_accessed_if_the_user_is_signed_in(api: Api) -> None:
    response = api.client().post("/api/tickets", json={})

    assert response.status_code == 401
    assert messages_of(response) == ["Not authorized"]


def test_returns_a_status_other_than_401_if_the_user_is_signed_in(api: Api) -> None:
    assert api.user().post("/api/tickets", json={}).status_code != 401


def test_returns_an_error_if_an_invalid_title_is_provided(api: Api) -> None:
    response = api.user().post("/api/tickets", json={"title": "", "price": 10})

    assert response.status_code == 400
    assert response.get_json() == {"errors": [{"message": "Title is required", "field": "title"}]}


def test_returns_an_error_if_an_invalid_price_is_provided(api: Api) -> None:
    seller = api.user()

    negative = seller.post("/api/tickets", json={"title": "asldkjf", "price": -10})
    missing = seller.post("/api/tickets", json={"title": "laskdfj"})

    assert negative.status_code == missing.status_code == 400
    assert (
        negative.get_json()
        == missing.get_json()
        == {"errors": [{"message": "Price must be greater than 0", "field": "price"}]}
    )


def test_creates_a_ticket_with_valid_inputs(api: Api) -> None:
    seller = api.user()
    assert seller.get("/api/tickets?owner=me").get_json() == []

    response = seller.post("/api/tickets", json={"title": "test", "price": 20})

    assert response.status_code == 201
    mine = seller.get("/api/tickets?owner=me").get_json()
    assert [(t["title"], t["price"]) for t in mine] == [("test", 20)]


def test_publishes_an_event(api: Api) -> None:
    ticket = api.ticket(api.user(), title="test", price=20)

    created = api.published().of_type("ticket:created")

    assert [e.data["id"] for e in created] == [ticket["id"]]
    assert created[0].data["price_minor"] == 2000


# --- routes/__test__/show.test.ts ----------------------------------------------------------------


def test_returns_a_404_if_the_ticket_is_not_found(api: Api) -> None:
    response = api.client().get(f"/api/tickets/{_random_id()}")

    assert response.status_code == 404
    assert messages_of(response) == ["Not Found"]


def test_returns_the_ticket_if_the_ticket_is_found(api: Api) -> None:
    ticket = api.ticket(api.user(), title="concert", price=20)

    response = api.client().get(f"/api/tickets/{ticket['id']}")

    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["price"]) == ("concert", 20)


# --- routes/__test__/update.test.ts --------------------------------------------------------------


def test_returns_a_404_if_the_provided_id_does_not_exist(api: Api) -> None:
    response = api.user().put(f"/api/tickets/{_random_id()}", json={"title": "aslkdfj", "price": 20})

    assert response.status_code == 404


def test_returns_a_401_if_the_user_is_not_authenticated(api: Api) -> None:
    response = api.client().put(f"/api/tickets/{_random_id()}", json={"title": "aslkdfj", "price": 20})

    assert response.status_code == 401


def test_returns_a_401_if_the_user_does_not_own_the_ticket(api: Api) -> None:
    ticket = api.ticket(api.user(), title="title", price=20)

    response = api.user().put(f"/api/tickets/{ticket['id']}", json={"title": "alskdjflskjdf", "price": 1000})

    assert response.status_code == 401
    shown = api.client().get(f"/api/tickets/{ticket['id']}").get_json()
    assert (shown["title"], shown["price"]) == ("title", 20)


def test_returns_a_400_if_the_user_provides_an_invalid_title_or_price(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, title="title", price=20)

    empty_title = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "", "price": 20})
    negative_price = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "alskdfjj", "price": -20})

    assert empty_title.status_code == negative_price.status_code == 400
    shown = api.client().get(f"/api/tickets/{ticket['id']}").get_json()
    assert (shown["title"], shown["price"], shown["version"]) == ("title", 20, 0)


def test_updates_the_ticket_provided_valid_inputs(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, title="title", price=20)

    response = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "title2", "price": 30})

    assert response.status_code == 200
    shown = api.client().get(f"/api/tickets/{ticket['id']}").get_json()
    assert (shown["title"], shown["price"]) == ("title2", 30)


def test_publishes_an_update_event(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, title="title", price=20)

    assert seller.put(f"/api/tickets/{ticket['id']}", json={"title": "new title", "price": 100}).status_code == 200

    updated = api.published().of_type("ticket:updated")
    assert [(e.data["id"], e.data["title"], e.data["version"]) for e in updated] == [(ticket["id"], "new title", 1)]


def test_rejects_updates_if_the_ticket_is_reserved(api: Api) -> None:
    seller = api.user()
    ticket = api.ticket(seller, title="title", price=20)
    api.order(api.user(), ticket["id"])

    response = seller.put(f"/api/tickets/{ticket['id']}", json={"title": "new title", "price": 100})

    assert response.status_code == 400
    assert messages_of(response) == ["Cannot edit a reserved ticket"]


# --- events/listeners/__test__/order-cancelled-listener.test.ts ----------------------------------


def test_updates_the_ticket_publishes_an_event_and_acks_the_message(api: Api) -> None:
    """Cancelling frees the ticket at once in the one store; ``order:cancelled`` carries the ticket id as text.

    (docs/compatibility.md#order-cancelled-ticket-id)
    """
    ticket = api.ticket(api.user())
    buyer = api.user()
    order = api.order(buyer, ticket["id"])

    assert buyer.delete(f"/api/orders/{order['id']}").status_code == 204

    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["available"] == 1
    assert [t["id"] for t in api.client().get("/api/tickets").get_json()] == [ticket["id"]]
    cancelled = api.published().of_type("order:cancelled")
    assert [(e.data["id"], e.data["ticket_id"]) for e in cancelled] == [(order["id"], ticket["id"])]
    assert api.pending_events() == 0


# --- events/listeners/__test__/order-created-listener.test.ts ------------------------------------


def test_sets_the_order_id_of_the_ticket(api: Api) -> None:
    """The original stored ``orderId`` on the ticket; ours counts the unit as held: none left, unlisted."""
    ticket = api.ticket(api.user())

    api.order(api.user(), ticket["id"])

    assert api.client().get(f"/api/tickets/{ticket['id']}").get_json()["available"] == 0
    assert api.client().get("/api/tickets").get_json() == []


def test_acks_the_order_created_message(api: Api) -> None:
    """Delivered once after commit, and a redelivery of the same event is dropped (docs/compatibility.md#outbox)."""
    ticket = api.ticket(api.user())
    api.order(api.user(), ticket["id"])
    created = api.published().of_type("order:created")
    assert len(created) == 1
    assert api.pending_events() == 0

    api.hive.bus.publish(Message(id=str(created[0].id), type=created[0].type, body=created[0].to_json()))

    assert len(api.events.of_type("order:created")) == 1


def test_publishes_a_ticket_updated_event(api: Api) -> None:
    """Ours has no ticket replica to update: ``order:created`` names the ticket and the amount instead.

    (docs/compatibility.md#event-envelopes)
    """
    ticket = api.ticket(api.user(), price=Decimal("12.50"))
    order = api.order(api.user(), ticket["id"])

    created = api.published().of_type("order:created")

    assert [(e.data["id"], e.data["ticket_id"], e.data["amount_minor"]) for e in created] == [
        (order["id"], ticket["id"], 1250)
    ]
    assert api.events.of_type("ticket:updated") == []
