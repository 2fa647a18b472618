"""A 1,000-order rush on ``eventhive serve --workers 2`` shows exactly in the metrics any worker serves.

The workers count in one multiprocess directory, so whichever worker answers the scrape adds up
every request and every reservation, whichever worker took it.
"""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

Server = Any  # the fixture's Server (tests/e2e/conftest.py)
TOKEN = "rush-metrics-token-0123456789"
RUSH = 1000
CAPACITY = 600
BUYERS = 20


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        answer = conn.getresponse()
        text = answer.read().decode()
    finally:
        conn.close()
    assert answer.status == 200, text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_a_rush_of_a_thousand_orders_shows_exactly_in_the_request_and_reservation_counters(
    start_server: Callable[..., Server], postgres_database_factory: Callable[[], str]
) -> None:
    server = start_server(workers=2, EVENTHIVE_DATABASE_URL=postgres_database_factory(), EVENTHIVE_METRICS_TOKEN=TOKEN)
    seller = server.browser()
    seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    ticket = seller.request("POST", "/api/tickets", {"title": "Hot", "price": 5, "capacity": CAPACITY}).body
    buyers = []
    for n in range(BUYERS):
        buyer = server.browser()
        assert (
            buyer.request("POST", "/api/users/signup", {"email": f"b{n}@example.com", "password": "secret1"}).status
            == 201
        )
        buyers.append(buyer)
    before = scrape(server.port)

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(
            pool.map(
                lambda n: buyers[n % BUYERS].request("POST", "/api/orders", {"ticketId": ticket["id"]}), range(RUSH)
            )
        )
    after = scrape(server.port)

    assert Counter(a.status for a in answers) == {201: CAPACITY, 400: RUSH - CAPACITY}
    orders = {"method": "POST", "route": "/api/orders"}

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("eventhive_http_requests_total", status="201", **orders) == CAPACITY
    assert moved("eventhive_http_requests_total", status="400", **orders) == RUSH - CAPACITY
    assert moved("eventhive_http_request_duration_seconds_count", **orders) == RUSH
    assert moved("eventhive_reservations_total", outcome="placed") == CAPACITY
    assert moved("eventhive_reservations_total", outcome="sold_out") == RUSH - CAPACITY
