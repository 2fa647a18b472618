"""The request id over HTTP: honoured when safe, made up otherwise, sent back always, carried by events."""

from __future__ import annotations

import logging

import pytest

from eventhive_flask.request_ids import REQUEST_LOGGER
from eventhive_flask.testing import ApiHarness


def test_a_safe_incoming_request_id_is_sent_back_and_carried_by_the_events_of_the_request(api: ApiHarness) -> None:
    seller = api.user()
    ticket = api.ticket(seller)
    buyer = api.user()

    response = buyer.post("/api/orders", json={"ticketId": ticket["id"]}, headers={"X-Request-ID": "checkout-42"})

    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "checkout-42"
    [created] = api.published().of_type("order:created")
    assert created.request_id == "checkout-42"


@pytest.mark.parametrize(
    "incoming",
    ["has space", "x" * 129, 'quote"inside', "new\\nline", "ünïcode", "-leading-dash"],
)
def test_an_unsafe_incoming_request_id_is_replaced_by_a_new_one(api: ApiHarness, incoming: str) -> None:
    response = api.client().get("/api/health", headers={"X-Request-ID": incoming})

    sent_back = response.headers["X-Request-ID"]
    assert sent_back != incoming
    assert len(sent_back) == 32
    assert all(char in "0123456789abcdef" for char in sent_back)


def test_every_response_gets_its_own_request_id_even_an_error(api: ApiHarness) -> None:
    client = api.client()

    missing = client.get("/api/orders/nothing-here")
    refused = client.post("/api/orders", json={"ticketId": "x"})
    other = client.get("/api/health")

    ids = {missing.headers["X-Request-ID"], refused.headers["X-Request-ID"], other.headers["X-Request-ID"]}
    assert missing.status_code >= 400
    assert refused.status_code == 401
    assert len(ids) == 3


def test_an_event_recorded_outside_any_request_carries_no_request_id(api: ApiHarness) -> None:
    from eventhive_core import CreateTicket

    seller = api.user()
    api.hive.handle(CreateTicket(owner_id=seller.user_id, title="Gig", price="20", capacity=1))  # type: ignore[attr-defined]

    [created] = api.published().of_type("ticket:created")
    assert created.request_id is None


def test_each_request_logs_one_line_with_its_id_and_without_query_string_cookies_or_credentials(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    buyer = api.user()
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)

    buyer.get(
        "/api/orders?token=query-secret",
        headers={"X-Request-ID": "list-1", "Authorization": "Bearer header-secret"},
    )

    [line] = [record for record in caplog.records if record.name == REQUEST_LOGGER]
    # The made-up bearer token is refused: the line shows that too.
    assert line.getMessage() == "GET /api/orders 401"
    assert (line.method, line.path, line.route, line.status) == ("GET", "/api/orders", "/api/orders", 401)  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    everything = repr(vars(line))
    assert "query-secret" not in everything
    assert "header-secret" not in everything
    assert "session" not in everything.lower()
