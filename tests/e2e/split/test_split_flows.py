"""The split as processes, driven over HTTP: a sale from sign-up to payment, an expiry, bans and sign-outs,
crashes of every service, and a rush.

Five ``eventhive service`` processes on five PostgreSQL databases, joined by NATS. Events cross
services asynchronously, so each step waits (with a deadline) for what the next one needs, as a
client of the original would have retried: a ticket the orders service has not replicated yet
is "Not Found" there for a moment.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from ...conftest import wipe_tables
from ..conftest import EVENTHIVE, Response, wait_until
from .conftest import ROLES, Split, SplitBrowser

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: How long events may take to cross the services in a test (a healthy bus takes milliseconds).
CROSSING = 30.0
REPLICATING = ("tickets", "orders", "payments", "expiration")


def until(what: str, attempt: Callable[[], Any], timeout: float = CROSSING) -> Any:
    """Call ``attempt`` until it returns something truthy; fail naming ``what`` at the deadline."""
    result: list[Any] = []

    def done() -> bool:
        result[:] = [attempt()]
        return bool(result[0])

    if not wait_until(done, timeout, interval=0.1):
        pytest.fail(f"timed out waiting for {what} (last: {result[0] if result else None!r})")
    return result[0]


def answered(status: int, response: Response) -> Response | None:
    return response if response.status == status else None


def sign_up(user: SplitBrowser, email: str) -> str:
    response = user.request("POST", "/api/users/signup", {"email": email, "password": "secret1"})
    assert response.status == 201, response.body
    return str(response.body["id"])


def list_ticket(seller: SplitBrowser, capacity: int = 1, price: int = 10) -> str:
    response = seller.request("POST", "/api/tickets", {"title": "Gig", "price": price, "capacity": capacity})
    assert response.status == 201, response.body
    return str(response.body["id"])


def order(buyer: SplitBrowser, ticket: str) -> dict[str, Any]:
    """Place an order once the orders service knows the ticket (404 until it is replicated there)."""
    placed: Response = until(
        "the orders service to know the ticket",
        lambda: answered(201, buyer.request("POST", "/api/orders", {"ticketId": ticket})),
    )
    return dict(placed.body)


def pay(buyer: SplitBrowser, order_id: str) -> dict[str, Any]:
    """Pay once the payments service knows the order."""
    paid: Response = until(
        "the payments service to know the order",
        lambda: answered(201, buyer.request("POST", "/api/payments", {"orderId": order_id, "token": "tok_visa"})),
    )
    return dict(paid.body)


def status_of(buyer: SplitBrowser, order_id: str) -> str:
    return str(buyer.request("GET", f"/api/orders/{order_id}").body["status"])


def rows(url: str) -> dict[str, Any]:
    """What a service's database holds of tickets and orders, as replicas are compared."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tickets = {
                r.id: (r.title, r.price_minor, r.capacity, r.version)
                for r in conn.execute(sa.text("SELECT id, title, price_minor, capacity, version FROM tickets"))
            }
            orders = {
                r.id: (r.ticket_id, r.buyer_id, r.status, r.version, r.quantity, r.cancel_reason)
                for r in conn.execute(
                    sa.text("SELECT id, ticket_id, buyer_id, status, version, quantity, cancel_reason FROM orders")
                )
            }
            units = {
                r.ticket_id: (int(r.held), int(r.sold))
                for r in conn.execute(
                    sa.text(
                        "SELECT ticket_id, sum(held) AS held, sum(sold) AS sold FROM ticket_stripes GROUP BY ticket_id"
                    )
                )
            }
            events = [r.type for r in conn.execute(sa.text("SELECT type FROM outbox ORDER BY occurred_at, id"))]
    finally:
        engine.dispose()
    return {"tickets": tickets, "orders": orders, "units": units, "events": events}


def run_as(services: Split, role: str, *args: str) -> str:
    """Run an ``eventhive`` maintenance command on ``role``'s database, as that service; return its output."""
    env = {**os.environ, **services.env(role), "EVENTHIVE_STORAGE": "sqlalchemy", "EVENTHIVE_ROLE": role}
    done = subprocess.run([EVENTHIVE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def held_at(services: Split, role: str) -> dict[str, Any]:
    """What ``role``'s database holds (see ``rows``)."""
    return rows(services.database_url(role))


def available(user: SplitBrowser, ticket: str) -> int:
    """The ticket's ``available`` as the tickets service lists it."""
    return int(user.request("GET", f"/api/tickets/{ticket}").body["available"])


def replicas_differ(services: Split) -> list[str]:
    """Every way a replica differs from its source (empty: all equal)."""
    held = {role: rows(services.database_url(role)) for role in REPLICATING}
    differences = []
    for role in ("orders", "payments", "expiration"):
        if held[role]["tickets"] != held["tickets"]["tickets"]:
            differences.append(f"{role}'s tickets")
    for role in ("tickets", "payments", "expiration"):
        if held[role]["orders"] != held["orders"]["orders"]:
            differences.append(f"{role}'s orders")
    for role in ("tickets", "payments", "expiration"):
        if held[role]["units"] != held["orders"]["units"]:
            differences.append(f"{role}'s units")
    return differences


def test_a_ticket_is_sold_across_the_five_services_from_sign_up_to_a_complete_order(
    split: Callable[..., Split],
) -> None:
    services = split()
    seller, buyer = services.browser(), services.browser()
    sign_up(seller, "seller@example.com")
    buyer_id = sign_up(buyer, "buyer@example.com")
    ticket = list_ticket(seller, capacity=2)

    placed = order(buyer, ticket)
    assert (placed["status"], placed["userId"]) == ("created", buyer_id)
    until(
        "the tickets service to see the hold",
        lambda: buyer.request("GET", f"/api/tickets/{ticket}").body["available"] == 1,
    )

    payment = pay(buyer, placed["id"])
    assert payment["status"] == "succeeded"
    until("the order to complete", lambda: status_of(buyer, placed["id"]) == "complete")
    until(
        "the tickets service to see the sale",
        lambda: rows(services.database_url("tickets"))["units"] == {ticket: (0, 1)},
    )
    assert seller.request("GET", f"/api/tickets/{ticket}").body["available"] == 1
    until("every replica to equal its source", lambda: not replicas_differ(services))
    orders_events = rows(services.database_url("orders"))["events"]
    assert orders_events.count("order:completed") == 1


def test_a_two_second_hold_is_cancelled_by_the_expiration_service_asking_the_orders_service(
    split: Callable[..., Split],
) -> None:
    services = split(
        common={"EVENTHIVE_RESERVATION_TTL": "2", "EVENTHIVE_EXPIRY_GRACE": "0"},
        # The orders service's own sweeper waits an hour: only the expiration service can end this hold.
        orders={"EVENTHIVE_SWEEP_INTERVAL": "3600"},
        expiration={"EVENTHIVE_SWEEP_INTERVAL": "0.5"},
    )
    seller, buyer = services.browser(), services.browser()
    sign_up(seller, "seller@example.com")
    sign_up(buyer, "buyer@example.com")
    ticket = list_ticket(seller)
    placed = order(buyer, ticket)

    # The order's row, not its view: a view shows a lapsed hold cancelled before anyone wrote it.
    until(
        "the orders service to cancel the hold",
        lambda: [o[2:] for o in held_at(services, "orders")["orders"].values()] == [("cancelled", 1, 1, "expired")],
        timeout=15,
    )
    assert status_of(buyer, placed["id"]) == "cancelled"
    assert "expiration:due" in rows(services.database_url("expiration"))["events"]
    until(
        "the ticket to be listed again", lambda: buyer.request("GET", f"/api/tickets/{ticket}").body["available"] == 1
    )
    until("every replica to equal its source", lambda: not replicas_differ(services))


def _refused_everywhere(user: SplitBrowser, ticket: str, order_id: str) -> dict[str, int]:
    return {
        "tickets": user.request("POST", "/api/tickets", {"title": "More", "price": 5}).status,
        "orders": user.request("GET", f"/api/orders/{order_id}").status,
        "payments": user.request("POST", "/api/payments", {"orderId": order_id, "token": "tok_visa"}).status,
    }


def test_a_ban_and_a_sign_out_are_refused_by_every_service_after_one_delivery(split: Callable[..., Split]) -> None:
    services = split()
    seller, ann, bob = services.browser(), services.browser(), services.browser()
    sign_up(seller, "seller@example.com")
    sign_up(ann, "ann@example.com")
    sign_up(bob, "bob@example.com")
    ticket = list_ticket(seller, capacity=5)
    anns, bobs = order(ann, ticket), order(bob, ticket)
    signed_out = SplitBrowser(bob.ports, dict(bob.cookies))  # bob's cookie as it was before signing out

    run_as(services, "auth", "users", "ban", "ann@example.com")
    assert bob.request("POST", "/api/users/signout", {}).status == 200

    unauthorised = {"tickets": 401, "orders": 401, "payments": 401}
    until("ann's ban to reach every service", lambda: _refused_everywhere(ann, ticket, anns["id"]) == unauthorised)
    until(
        "bob's sign-out to reach every service",
        lambda: _refused_everywhere(signed_out, ticket, bobs["id"]) == unauthorised,
    )
    assert ann.request("GET", "/api/users/currentuser").body == {"currentUser": None}
    assert signed_out.request("GET", "/api/users/currentuser").body == {"currentUser": None}
    # The seller, neither banned nor signed out, is still served everywhere.
    assert seller.request("POST", "/api/tickets", {"title": "Still here", "price": 5}).status == 201


def test_a_crash_of_any_service_mid_flow_loses_no_event_and_leaves_every_replica_equal_to_its_source(
    split: Callable[..., Split],
) -> None:
    # A short ack wait: what a killed process had fetched comes back to its successor sooner.
    services = split(common={"EVENTHIVE_NATS_ACK_WAIT": "5"})
    seller, buyer = services.browser(), services.browser()
    sign_up(seller, "seller@example.com")
    sign_up(buyer, "buyer@example.com")
    tickets = [list_ticket(seller, capacity=3)]
    orders = [order(buyer, tickets[0])["id"]]

    for role in ROLES:
        # Events in flight from and to the service when it dies: its outbox and its consumers.
        if role != "tickets":
            tickets.append(list_ticket(seller, capacity=2))
        if role != "orders":
            orders.append(order(buyer, tickets[-1])["id"])
        services.kill(role)
        if role != "orders":
            orders.append(order(buyer, tickets[0])["id"])
            buyer.request("DELETE", f"/api/orders/{orders[-1]}")
        if role not in ("payments", "orders"):
            buyer.request("POST", "/api/payments", {"orderId": orders[0], "token": "tok_visa"})
        if role != "tickets":
            seller.request("PUT", f"/api/tickets/{tickets[-1]}", {"title": f"After {role}", "price": 12})
        services.start(role)

    pay(buyer, orders[1])
    until("every replica to equal its source", lambda: not replicas_differ(services), timeout=60)
    source = rows(services.database_url("orders"))["orders"]
    assert set(orders) <= set(source)
    assert source[orders[0]][2] == "complete"


def _rush(buyers: list[SplitBrowser], ticket: str) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        return list(pool.map(lambda b: b.request("POST", "/api/orders", {"ticketId": ticket}).status, buyers))


def test_a_rush_through_the_orders_service_sells_exactly_the_capacity(split: Callable[..., Split]) -> None:
    services = split()
    seller = services.browser()
    sign_up(seller, "seller@example.com")
    buyers = [services.browser() for _ in range(60)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: sign_up(buyers[n], f"buyer{n}@example.com"), range(len(buyers))))

    one = list_ticket(seller, capacity=1)
    ten = list_ticket(seller, capacity=10)
    for ticket in (one, ten):
        until(
            "the orders service to know the ticket",
            lambda t=ticket: t in rows(services.database_url("orders"))["tickets"],
        )

    first = _rush(buyers[:40], one)
    assert sorted(set(first)) == [201, 400]
    assert first.count(201) == 1
    second = _rush(buyers, ten)
    assert second.count(201) == 10
    held = rows(services.database_url("orders"))
    by_ticket = [o[0] for o in held["orders"].values() if o[2] == "created"]
    assert (by_ticket.count(one), by_ticket.count(ten)) == (1, 10)
    until("every replica to equal its source", lambda: not replicas_differ(services))


def test_a_replica_wiped_out_is_rebuilt_from_a_replay_of_the_stream(split: Callable[..., Split]) -> None:
    services = split()
    seller, buyer = services.browser(), services.browser()
    sign_up(seller, "seller@example.com")
    sign_up(buyer, "buyer@example.com")
    ticket = list_ticket(seller, capacity=3)
    seller.request("PUT", f"/api/tickets/{ticket}", {"title": "Renamed", "price": 15})
    paid, cancelled = order(buyer, ticket), order(buyer, ticket)
    pay(buyer, paid["id"])
    assert buyer.request("DELETE", f"/api/orders/{cancelled['id']}").status in (200, 204)
    until("every replica to equal its source", lambda: not replicas_differ(services))

    services.kill("expiration")
    wipe_tables(services.database_url("expiration"))
    assert held_at(services, "expiration")["orders"] == {}
    replayed = run_as(services, "expiration", "events", "replay", "--role", "expiration", "--from", "1")
    assert "Replayed" in replayed
    assert not replicas_differ(services)
    services.start("expiration")
    assert not replicas_differ(services)
