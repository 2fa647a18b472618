"""Every JSON answer of the API ends with one newline, so curl's output does not run into the shell prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from eventhive_flask.extension import EventHive
from eventhive_flask.testing import TEST_PASSWORD, make_test_app
from eventhive_flask.testing import ApiHarness as Api


def assert_one_json_line(response: Any) -> Any:
    """Check the body is JSON ended by exactly one newline, counted in Content-Length; return the JSON."""
    body = response.get_data()
    assert response.mimetype == "application/json"
    assert body.endswith(b"\n"), f"the body does not end with a newline: {body[-40:]!r}"
    assert not body.endswith(b"\n\n"), f"the body ends with more than one newline: {body[-40:]!r}"
    assert int(response.headers["Content-Length"]) == len(body)
    return json.loads(body)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/health", 200), ("/api/tickets", 200), ("/api/openapi.json", 200)],
    ids=["one model", "a list", "the OpenAPI document"],
)
def test_a_json_answer_that_succeeds_ends_with_a_newline(api: Api, path: str, status: int) -> None:
    api.ticket(api.user())  # so that the list is not empty

    response = api.client().get(path)

    assert response.status_code == status
    assert assert_one_json_line(response)


def test_a_created_resource_ends_with_a_newline(api: Api) -> None:
    response = api.user().post("/api/tickets", json={"title": "Jazz night", "price": 25})

    assert response.status_code == 201
    assert assert_one_json_line(response)["title"] == "Jazz night"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/orders", None, 401),
        ("POST", "/api/users/signup", {"email": "not an email", "password": TEST_PASSWORD}, 400),
        ("GET", "/api/no-such-route", None, 404),
        ("DELETE", "/api/tickets", None, 405),
    ],
    ids=["refused by the core", "invalid input", "unknown route", "wrong method"],
)
def test_an_error_answer_ends_with_a_newline(api: Api, method: str, path: str, body: object, status: int) -> None:
    response = api.client().open(path, method=method, json=body)

    assert response.status_code == status
    assert set(assert_one_json_line(response)) == {"errors"}


def test_a_replayed_payment_ends_with_one_newline_like_the_first_answer(api: Api) -> None:
    # The first answer is stored with its newline: the replay must not add a second one.
    buyer = api.user()
    order = api.order(buyer, api.ticket(api.user())["id"])
    pay = {"orderId": order["id"], "token": "tok_visa"}

    first = buyer.post("/api/payments", json=pay, headers={"Idempotency-Key": "pay-1"})
    replayed = buyer.post("/api/payments", json=pay, headers={"Idempotency-Key": "pay-1"})

    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert assert_one_json_line(replayed) == assert_one_json_line(first)
    assert replayed.get_data() == first.get_data()


def test_a_replayed_order_refusal_ends_with_a_newline(make_api: Callable[..., Api]) -> None:
    # The core keeps this refusal's body itself, as JSON text without the edge's newline.
    api = make_api()
    ticket = api.ticket(api.user())
    api.order(api.user(), ticket["id"])
    buyer = api.user()
    place = {"ticketId": ticket["id"]}

    refused = buyer.post("/api/orders", json=place, headers={"Idempotency-Key": "k"})
    replayed = buyer.post("/api/orders", json=place, headers={"Idempotency-Key": "k"})

    assert refused.status_code == replayed.status_code == 400
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert assert_one_json_line(replayed) == assert_one_json_line(refused)


def test_a_rate_limited_answer_ends_with_a_newline() -> None:
    app = make_test_app(EVENTHIVE_RATE_LIMITS=True, EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT="1 per minute")
    try:
        guess = {"email": "ann@example.com", "password": "not-it"}
        answers = [app.test_client().post("/api/users/signin", json=guess) for _ in range(2)]

        assert [answer.status_code for answer in answers] == [400, 429]
        assert set(assert_one_json_line(answers[1])) == {"errors"}
    finally:
        EventHive.hive_for(app).close()
