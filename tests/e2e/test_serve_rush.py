"""A rush over HTTP: ``eventhive serve --workers 4`` on PostgreSQL, many buyers firing at once.

Four worker processes, each with its own threads and connections: only the database's atomic
reservation can keep the count right (docs/compatibility.md#atomic-reservation).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here


def _sign_up_all(server: Server, count: int, prefix: str) -> list[Any]:
    def one(n: int) -> Any:
        browser = server.browser()
        body = {"email": f"{prefix}{n}@example.com", "password": "secret1"}
        response = browser.request("POST", "/api/users/signup", body)
        assert response.status == 201, response.body
        return browser

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def _rush(buyers: list[Any], ticket_id: str) -> list[Any]:
    start = threading.Barrier(len(buyers))

    def fire(browser: Any) -> Any:
        start.wait()
        return browser.request("POST", "/api/orders", {"ticketId": ticket_id})

    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        return list(pool.map(fire, buyers))


@pytest.mark.parametrize(("capacity", "buyers"), [(1, 40), (10, 60)])
def test_a_rush_of_buyers_gets_exactly_the_units_there_are(
    start_server: Callable[..., Server],
    postgres_database_factory: Callable[[], str],
    capacity: int,
    buyers: int,
) -> None:
    server = start_server(workers=4, EVENTHIVE_DATABASE_URL=postgres_database_factory())
    seller = server.browser()
    seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    ticket = seller.request("POST", "/api/tickets", {"title": "Hot", "price": 50, "capacity": capacity}).body
    crowd = _sign_up_all(server, buyers, f"buyer-{capacity}-")

    responses = _rush(crowd, ticket["id"])

    assert Counter(r.status for r in responses) == {201: capacity, 400: buyers - capacity}
    refused = [r.body for r in responses if r.status == 400]
    assert all(body == {"errors": [{"message": "Ticket is already reserved"}]} for body in refused)
    shown = seller.request("GET", f"/api/tickets/{ticket['id']}").body
    assert shown["available"] == 0
    placed = [r.body["id"] for r in responses if r.status == 201]
    assert len(set(placed)) == capacity
