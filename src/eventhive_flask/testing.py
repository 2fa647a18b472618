"""Test helpers: an app on memory storage with a frozen clock, and a harness that speaks the API.

For this project's tests and for plugin authors::

    harness = ApiHarness.build()
    seller, buyer = harness.user(), harness.user()
    ticket = harness.ticket(seller, price=20)
    order = harness.order(buyer, ticket["id"])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from eventhive_core import Hive, hookimpl
from eventhive_core.contracts.envelope import Envelope
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.storage import Storage
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import TEST_JWT_SECRET, fast_hasher
from eventhive_flask.extension import EventHive, HiveOverrides

#: Config of a test app: memory storage, no timers, fake payments.
TEST_CONFIG: Mapping[str, object] = {
    "TESTING": True,
    "EVENTHIVE_STORAGE": "memory",
    "EVENTHIVE_SCHEDULER": "none",
    "EVENTHIVE_PAYMENT_PROVIDER": "fake",
    "EVENTHIVE_JWT_SECRET": TEST_JWT_SECRET,
    # Tests sign many users up and in within seconds; the limits have tests of their own.
    "EVENTHIVE_RATE_LIMITS": False,
}

#: Settings (as environment variables or config) that keep the rate limits on, as users get them,
#: with ceilings no test reaches: for a server that many test users sign up to from one address.
UNREACHED_RATE_LIMITS: Mapping[str, str] = {
    name: "100000 per minute"
    for name in (
        "EVENTHIVE_RATE_LIMIT_SIGNIN",
        "EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT",
        "EVENTHIVE_RATE_LIMIT_SIGNUP",
        "EVENTHIVE_RATE_LIMIT_SIGNUP_ACCOUNT",
        "EVENTHIVE_RATE_LIMIT_ORDERS",
    )
}

#: The password the sign-up helpers use.
TEST_PASSWORD = "password"  # noqa: S105 (test accounts only)

#: Every event type the core publishes.
EVENT_TYPES = (
    "ticket:created",
    "ticket:updated",
    "order:created",
    "order:cancelled",
    "order:completed",
    "order:payment_refused",
    "expiration:complete",
    "expiration:due",
    "payment:created",
    "payment:refunded",
    "user:banned",
    "user:signed_out",
)


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


# Compared by identity, so it stays hashable: pluggy keeps plugins in sets (subset hook callers).
@dataclass(eq=False)
class EventRecorder:
    """A plugin that subscribes to every event type and keeps what it receives (after commit and relay)."""

    envelopes: list[Envelope] = field(default_factory=list)

    @hookimpl
    def eventhive_register_subscribers(self, register: Callable[[str, str, str, Any], None]) -> None:
        """Subscribe to every event type."""
        for event_type in EVENT_TYPES:
            register(f"tests.recorder.{event_type}", event_type, "tests", self._record)

    def _record(self, envelope: Envelope, uow: object) -> None:
        self.envelopes.append(envelope)

    def of_type(self, event_type: str) -> list[Envelope]:
        """Return the envelopes received of one type, in order."""
        return [e for e in self.envelopes if e.type == event_type]


@dataclass
class ApiHarness:
    """An app under test, its clock and payment gateway, and helpers that speak HTTP."""

    app: Flask
    clock: FrozenClock
    gateway: PaymentGateway
    events: EventRecorder
    _count: int = 0

    @classmethod
    def build(
        cls,
        *,
        clock: FrozenClock | None = None,
        gateway: PaymentGateway | None = None,
        storage: Storage | None = None,
        plugins: tuple[object, ...] = (),
        **config: object,
    ) -> ApiHarness:
        """Build an app (extra config keys as keyword arguments) with an event recorder plugged in.

        ``gateway`` and ``storage``, when given, replace the ones the config would choose.
        """
        events = EventRecorder()
        clock = clock or FrozenClock()
        overrides: HiveOverrides = {"payment_gateway": gateway} if gateway is not None else {}
        if storage is not None:
            overrides["storage"] = storage
        app = make_test_app(clock=clock, plugins=(events, *plugins), overrides=overrides, **config)
        return cls(app, clock, gateway or EventHive.hive_for(app).payment_gateway, events)

    @property
    def hive(self) -> Hive:
        """The app's Hive."""
        return EventHive.hive_for(self.app)

    def client(self) -> FlaskClient:
        """A new anonymous client."""
        return self.app.test_client()

    def user(self, email: str | None = None) -> FlaskClient:
        """A client signed in as a new user (it keeps the cookie); the id is in ``client.user_id``."""
        self._count += 1
        client = self.app.test_client()
        client.user_id = sign_up(client, email or f"user{self._count}@test.com")  # type: ignore[attr-defined]
        return client

    def ticket(
        self, seller: FlaskClient, title: str = "concert", price: object = 20, **extra: object
    ) -> dict[str, Any]:
        """List a ticket as ``seller`` and return its JSON."""
        response = seller.post("/api/tickets", json={"title": title, "price": price, **extra})
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def order(self, buyer: FlaskClient, ticket_id: str, **extra: object) -> dict[str, Any]:
        """Place an order as ``buyer`` and return its JSON."""
        response = buyer.post("/api/orders", json={"ticketId": ticket_id, **extra})
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def published(self) -> EventRecorder:
        """Relay the outbox now and return the recorder."""
        self.hive.relay_outbox()
        return self.events

    def pending_events(self) -> int:
        """How many outbox rows are not yet published."""
        with self.hive.uow() as uow:
            return uow.outbox.pending()


def errors_of(response: Any) -> list[dict[str, str]]:
    """Return the ``errors`` list of an error response, asserting it has the original's shape."""
    body = response.get_json()
    assert isinstance(body, dict), body
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for entry in body["errors"]:
        assert set(entry) <= {"message", "field"}, entry
        assert isinstance(entry["message"], str), entry
    return list(body["errors"])


def messages_of(response: Any) -> list[str]:
    """Return the messages of an error response."""
    return [entry["message"] for entry in errors_of(response)]


__all__ = [
    "EVENT_TYPES",
    "TEST_CONFIG",
    "TEST_PASSWORD",
    "ApiHarness",
    "EventRecorder",
    "errors_of",
    "make_test_app",
    "messages_of",
    "sign_up",
]
