"""HTTP metrics by route template and status, and ``GET /metrics`` kept off the public path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from eventhive_core import ConfigurationError
from eventhive_flask.extension import EventHive
from eventhive_flask.testing import ApiHarness, make_test_app

TOKEN = "metrics-token-0123456789"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_count_by_route_template_never_by_path(api: ApiHarness) -> None:
    buyer = api.user()
    ticket = api.ticket(api.user("seller@example.com"))
    order = api.order(buyer, ticket["id"])
    labels = {"method": "GET", "route": "/api/orders/<order_id>"}
    before = sample("eventhive_http_requests_total", status="200", **labels)
    timed = sample("eventhive_http_request_duration_seconds_count", **labels)

    assert buyer.get(f"/api/orders/{order['id']}").status_code == 200
    assert buyer.get(f"/api/orders/{order['id']}").status_code == 200

    assert sample("eventhive_http_requests_total", status="200", **labels) - before == 2
    assert sample("eventhive_http_request_duration_seconds_count", **labels) - timed == 2
    assert (
        REGISTRY.get_sample_value(
            "eventhive_http_requests_total", {**labels, "route": f"/api/orders/{order['id']}", "status": "200"}
        )
        is None
    )


def test_client_errors_and_unknown_paths_are_counted_too(api: ApiHarness) -> None:
    refused = {"method": "POST", "route": "/api/orders", "status": "401"}
    unknown = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before = sample("eventhive_http_requests_total", **refused), sample("eventhive_http_requests_total", **unknown)

    assert api.client().post("/api/orders", json={"ticketId": "x"}).status_code == 401
    assert api.client().get("/api/no-such-thing/123").status_code == 404

    after = sample("eventhive_http_requests_total", **refused), sample("eventhive_http_requests_total", **unknown)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_a_rate_limited_request_counts_as_429() -> None:
    app = make_test_app(EVENTHIVE_RATE_LIMITS=True, EVENTHIVE_RATE_LIMIT_SIGNIN="1 per minute")
    try:
        labels = {"method": "POST", "route": "/api/users/signin", "status": "429"}
        before = sample("eventhive_http_requests_total", **labels)
        client = app.test_client()
        statuses = [
            client.post("/api/users/signin", json={"email": "a@example.com", "password": "nope-nope"}).status_code
            for _ in range(2)
        ]

        assert statuses[-1] == 429
        assert sample("eventhive_http_requests_total", **labels) - before == 1
    finally:
        EventHive.hive_for(app).close()


@pytest.fixture
def metrics_app() -> Any:
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        apps.append(make_test_app(**config))
        return apps[-1]

    yield build
    for app in apps:
        EventHive.hive_for(app).close()


def test_metrics_are_not_served_without_a_token_setting(metrics_app: Callable[..., Flask]) -> None:
    assert metrics_app().test_client().get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_metrics_ask_for_the_token(metrics_app: Callable[..., Flask], authorization: str | None) -> None:
    client = metrics_app(EVENTHIVE_METRICS_TOKEN=TOKEN).test_client()
    headers = {"Authorization": authorization} if authorization else {}

    answer = client.get("/metrics", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"eventhive_" not in answer.data


def test_metrics_with_the_token_are_prometheus_text_with_every_metric(metrics_app: Callable[..., Flask]) -> None:
    app = metrics_app(EVENTHIVE_METRICS_TOKEN=TOKEN, EVENTHIVE_URL_PREFIX="/shop")
    client = app.test_client()
    client.get("/shop/api/tickets")

    answer = client.get("/shop/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(answer.get_data(as_text=True))}
    assert {
        "eventhive_http_requests",
        "eventhive_http_request_duration_seconds",
        "eventhive_reservations",
        "eventhive_command_retries",
        "eventhive_hold_expiry_lag_seconds",
        "eventhive_payments",
        "eventhive_webhooks",
        "eventhive_events_published",
        "eventhive_events_consumed",
        "eventhive_outbox_backlog",
        "eventhive_outbox_oldest_age_seconds",
    } <= set(families)
    tickets = [s for s in families["eventhive_http_requests"].samples if s.labels.get("route") == "/shop/api/tickets"]
    assert tickets
    assert all(s.labels["status"] == "200" for s in tickets)


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="16 characters or more"):
        make_test_app(EVENTHIVE_METRICS_TOKEN="short")
