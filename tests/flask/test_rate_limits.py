"""Rate limits on sign-in, sign-up and order placement: 429 in the error shape with ``Retry-After``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from eventhive_core import ConfigurationError
from eventhive_flask.extension import EventHive
from eventhive_flask.testing import TEST_PASSWORD, errors_of, make_test_app


@pytest.fixture
def limited() -> Iterator[Any]:
    """``limited(**config)``: an app with the limits on (the test apps have them off) and tight ceilings."""
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        apps.append(make_test_app(EVENTHIVE_RATE_LIMITS=True, **config))
        return apps[-1]

    yield build
    for app in apps:
        EventHive.hive_for(app).close()


def sign_up(app: Flask, email: str) -> None:
    assert (
        app.test_client().post("/api/users/signup", json={"email": email, "password": TEST_PASSWORD}).status_code == 201
    )


def guess(app: Flask, email: str, password: str = "not-it", path: str = "/api/users/signin") -> Any:
    return app.test_client().post(path, json={"email": email, "password": password})


def test_guessing_one_accounts_password_is_refused_after_the_limit_then_released(limited: Any) -> None:
    app = limited(EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT="3 per 2 seconds")
    sign_up(app, "ann@example.com")

    answers = [guess(app, "ann@example.com") for _ in range(5)]

    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429]
    refused = answers[-1]
    assert errors_of(refused)[0]["message"].startswith("Too many attempts; try again in ")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3
    # The right password is refused too while the limit holds: a guesser learns nothing.
    assert guess(app, "ann@example.com", TEST_PASSWORD).status_code == 429
    time.sleep(2.1)
    assert guess(app, "ann@example.com", TEST_PASSWORD).status_code == 200


def test_the_account_limit_counts_the_api_the_token_route_and_the_page_together(limited: Any) -> None:
    app = limited(EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT="3 per minute")
    sign_up(app, "ann@example.com")

    guess(app, "ANN@example.com", path="/api/users/signin")
    guess(app, "ann@example.com", path="/api/users/tokens")
    page = app.test_client()
    form = page.get("/auth/signin").get_data(as_text=True)
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    assert (
        page.post("/auth/signin", data={"csrf_token": csrf, "email": "ann@example.com", "password": "x"}).status_code
        == 400
    )

    over = page.post("/auth/signin", data={"csrf_token": csrf, "email": "ann@example.com", "password": "x"})
    assert over.status_code == 429
    assert "Too many attempts" in over.get_data(as_text=True)
    assert over.headers["Retry-After"]
    assert guess(app, "ann@example.com", path="/api/users/tokens").status_code == 429
    assert guess(app, "bob@example.com").status_code == 400  # another account is not held back


def test_one_address_trying_many_accounts_is_limited_too(limited: Any) -> None:
    app = limited(EVENTHIVE_RATE_LIMIT_SIGNIN="4 per minute")

    statuses = [guess(app, f"user{n}@example.com").status_code for n in range(6)]

    assert statuses == [400, 400, 400, 400, 429, 429]


def test_sign_ups_are_limited_per_address(limited: Any) -> None:
    app = limited(EVENTHIVE_RATE_LIMIT_SIGNUP="2 per minute")

    statuses = [
        app.test_client()
        .post("/api/users/signup", json={"email": f"u{n}@example.com", "password": TEST_PASSWORD})
        .status_code
        for n in range(3)
    ]

    assert statuses == [201, 201, 429]


def test_orders_are_limited_per_user_not_per_address(limited: Any) -> None:
    app = limited(EVENTHIVE_RATE_LIMIT_ORDERS="2 per minute")
    seller, ann, bob = app.test_client(), app.test_client(), app.test_client()
    for client, email in ((seller, "s@example.com"), (ann, "ann@example.com"), (bob, "bob@example.com")):
        assert client.post("/api/users/signup", json={"email": email, "password": TEST_PASSWORD}).status_code == 201
    ticket = seller.post("/api/tickets", json={"title": "Gig", "price": 5, "capacity": 10}).get_json()["id"]

    ann_orders = [ann.post("/api/orders", json={"ticketId": ticket}).status_code for _ in range(3)]

    assert ann_orders == [201, 201, 429]
    assert bob.post("/api/orders", json={"ticketId": ticket}).status_code == 201


def test_the_limits_are_off_only_when_said_so() -> None:
    app = make_test_app(EVENTHIVE_RATE_LIMITS=False, EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT="1 per minute")
    try:
        sign_up(app, "ann@example.com")
        assert [guess(app, "ann@example.com").status_code for _ in range(3)] == [400, 400, 400]
    finally:
        EventHive.hive_for(app).close()
    from eventhive_flask.config import DEFAULTS

    assert DEFAULTS["EVENTHIVE_RATE_LIMITS"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("EVENTHIVE_RATE_LIMIT_SIGNIN", "lots"),
        ("EVENTHIVE_RATE_LIMIT_ORDERS", "5 per fortnight"),
        ("EVENTHIVE_REDIS_URL", "localhost:6379"),
        ("EVENTHIVE_PROXY_HOPS", "-1"),
    ],
)
def test_a_bad_limit_setting_fails_at_start(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        make_test_app(EVENTHIVE_RATE_LIMITS=True, **{key: value})
