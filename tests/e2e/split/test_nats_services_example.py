"""The five-services example (examples/nats-services), started with its one command and walked through its front.

The test talks to the front's one address only, with one cookie jar per user as a browser
keeps: a sale from sign-up to a complete order, and a hold that lapses; and the original
Next.js client's calls. The example runs from the ``example`` fixture (nats_example.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .nats_example import Example, page, status, wait_for_the_front
from .test_split_flows import answered, until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_example_sells_a_ticket_and_cancels_a_lapsed_hold_through_its_front_alone(
    example: Callable[..., Example],
) -> None:
    running = example()
    wait_for_the_front(running)
    seller, buyer = running.browser(), running.browser()

    # Sign up at auth; the cookie it sets is the one the front's address keeps for every service.
    for user, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        assert running.send(user, "POST", "/api/users/signup", {"email": email, "password": "secret1"}).status == 201
        assert "eventhive" in user.cookies
    assert buyer.request("GET", "/api/users/currentuser").body["currentUser"]["email"] == "buyer@example.com"

    # Sell at tickets, buy at orders, pay at payments: each trusts the cookie auth set.
    ticket = running.send(seller, "POST", "/api/tickets", {"title": "Split night", "price": 20})
    assert ticket.status == 201, ticket.body
    ticket_id = ticket.body["id"]
    placed = until(
        "the orders service to know the ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": ticket_id})),
    )
    order_id = placed.body["id"]
    paid = until(
        "the payments service to know the order",
        lambda: answered(201, running.send(buyer, "POST", "/api/payments", {"orderId": order_id, "token": "tok_visa"})),
    )
    assert paid.body["status"] == "succeeded", paid.body
    # The orders service settles the payment a delivery later.
    until(
        "the order to be complete",
        lambda: buyer.request("GET", f"/api/orders/{order_id}").body["status"] == "complete",
    )

    # A hold left unpaid: cancelled after its 2 s, and the tickets service frees the unit again.
    other = running.send(seller, "POST", "/api/tickets", {"title": "Lapsed night", "price": 15})
    assert other.status == 201, other.body
    hold = until(
        "the orders service to know the second ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": other.body["id"]})),
    )
    until(
        "the tickets service to learn of the hold",
        lambda: buyer.request("GET", f"/api/tickets/{other.body['id']}").body["available"] == 0,
    )
    until(
        "the hold to be cancelled",
        lambda: buyer.request("GET", f"/api/orders/{hold.body['id']}").body["status"] == "cancelled",
    )
    until(
        "the tickets service to free the unit",
        lambda: buyer.request("GET", f"/api/tickets/{other.body['id']}").body["available"] == 1,
    )

    # Every other path is the client's: the pages, rendered over the same API through the front.
    assert status(running.front_port, "/") == 200
    assert "Lapsed night" in page(running.front_port, "/")


def test_the_original_nextjs_clients_calls_get_what_it_reads_through_the_front(example: Callable[..., Example]) -> None:
    # Each request as the original client sends it (reference §8), and each field its pages read.
    running = example()
    wait_for_the_front(running)
    seller, buyer = running.browser(), running.browser()

    assert buyer.request("GET", "/api/users/currentuser").body == {"currentUser": None}
    refused = running.send(buyer, "POST", "/api/users/signup", {"email": "not an email", "password": "secret1"})
    assert refused.status == 400
    assert [error["message"] for error in refused.body["errors"]]  # useRequest lists errors[].message
    for user, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        signed = running.send(user, "POST", "/api/users/signup", {"email": email, "password": "secret1"})
        assert (signed.status, signed.body["email"]) == (201, email)
        assert user.request("GET", "/api/users/currentuser").body["currentUser"]["email"] == email

    # /tickets/new sends the price as text, reformatted to two decimals.
    ticket = running.send(seller, "POST", "/api/tickets", {"title": "Gig", "price": "20.00"})
    assert ticket.status == 201
    assert {"id", "title", "price", "userId"} <= set(ticket.body)
    listed = buyer.request("GET", "/api/tickets").body
    assert [(t["id"], t["title"], t["price"]) for t in listed] == [(ticket.body["id"], "Gig", 20)]
    shown = buyer.request("GET", f"/api/tickets/{ticket.body['id']}").body
    assert (shown["title"], shown["price"]) == ("Gig", 20)

    placed = until(
        "the orders service to know the ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": ticket.body["id"]})),
    )
    order = buyer.request("GET", f"/api/orders/{placed.body['id']}").body
    assert {"expiresAt", "status"} <= set(order)
    assert (order["ticket"]["title"], order["ticket"]["price"]) == ("Gig", 20)
    paid = until(
        "the payments service to know the order",
        lambda: answered(
            201, running.send(buyer, "POST", "/api/payments", {"orderId": order["id"], "token": "tok_visa"})
        ),
    )
    assert "id" in paid.body
    mine = buyer.request("GET", "/api/orders").body
    assert [(o["id"], o["ticket"]["title"], o["ticket"]["price"]) for o in mine] == [(order["id"], "Gig", 20)]
    until("the order to show paid", lambda: buyer.request("GET", "/api/orders").body[0]["status"] == "complete")

    assert running.send(buyer, "POST", "/api/users/signout", {}).status == 200
    assert buyer.request("GET", "/api/users/currentuser").body == {"currentUser": None}
