"""Test helpers: an app on memory storage with a frozen clock, and sign-up helpers for the test client."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask.testing import FlaskClient

from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import TEST_JWT_SECRET, fast_hasher
from eventhive_flask.extension import EventHive, HiveOverrides

#: Config of a test app: memory storage, no timers, fake payments, no Secure cookie.
TEST_CONFIG: Mapping[str, object] = {
    "TESTING": True,
    "EVENTHIVE_STORAGE": "memory",
    "EVENTHIVE_SCHEDULER": "none",
    "EVENTHIVE_PAYMENT_PROVIDER": "fake",
    "EVENTHIVE_JWT_SECRET": TEST_JWT_SECRET,
}

#: The password the sign-up helpers use.
TEST_PASSWORD = "password"  # noqa: S105 (test accounts only)


def make_test_app(
    *,
    clock: FrozenClock | None = None,
    plugins: tuple[object, ...] = (),
    overrides: HiveOverrides | None = None,
    **config: object,
) -> Flask:
    """Return a Flask app with EventHive on memory storage, a frozen clock and fast password hashing.

    Keyword arguments are extra config keys (``EVENTHIVE_RESERVATION_TTL=2``...).
    """
    app = Flask("eventhive_test")
    app.config.update(TEST_CONFIG)
    app.config.update(config)
    given: HiveOverrides = {"clock": clock or FrozenClock(), "password_hasher": fast_hasher()}
    given.update(overrides or {})
    EventHive(app, plugins=plugins, overrides=given)
    return app


def sign_up(client: FlaskClient, email: str = "test@test.com", password: str = TEST_PASSWORD) -> str:
    """Sign up through the API (the client keeps the cookie) and return the new user's id."""
    response = client.post("/api/users/signup", json={"email": email, "password": password})
    if response.status_code != 201:
        raise AssertionError(f"sign-up of {email} failed: {response.status_code} {response.get_data(as_text=True)}")
    return str(response.get_json()["id"])


__all__ = ["TEST_CONFIG", "TEST_PASSWORD", "make_test_app", "sign_up"]
