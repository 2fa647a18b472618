"""``GET /api/health/ready``: 200 when the backends answer, 503 naming the one that did not, and nothing more.

The buses here are stand-ins for a broker that refuses or hangs; the real servers, stopped and
started again, are in tests/integration/test_readiness_of_real_servers.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from eventhive_core.adapters.inprocess_bus import InProcessBus
from eventhive_core.ports.event_bus import Delivery, EventBus
from eventhive_core.ports.messages import Message
from eventhive_flask import EventHive
from eventhive_flask.testing import make_test_app

SECRET_URL = "amqp://eventhive:s3cret-broker-password@broker.internal:5672//"


class RefusingBus(InProcessBus):
    """A bus whose broker refuses, with its URL (and password) in the error, as kombu's errors have."""

    def check_reachable(self, timeout: float) -> None:
        raise ConnectionRefusedError(f"[Errno 111] Connection refused: {SECRET_URL}")


class HungBus(InProcessBus):
    """A bus whose broker accepts the connection and never answers; counts how often it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0
        self.release = threading.Event()

    def check_reachable(self, timeout: float) -> None:
        self.asked += 1
        self.release.wait(30)


class PluginBus:
    """A plugin's bus written before readiness existed: the port's four methods and nothing else."""

    def __init__(self) -> None:
        self._inner = InProcessBus()

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        self._inner.subscribe(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        self._inner.publish(message)

    def start(self) -> None:
        self._inner.start()

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def app_with_bus() -> Iterator[Callable[..., Flask]]:
    """``build(bus, **config)``: a test app whose Hive uses ``bus``; every Hive is closed afterwards."""
    built: list[Flask] = []

    def build(bus: EventBus, **config: Any) -> Flask:
        app = make_test_app(overrides={"event_bus": bus}, **config)
        built.append(app)
        return app

    yield build
    for app in built:
        EventHive.hive_for(app).close()


def _validate_against_the_document(app: Flask, response: Any) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    declared = document["paths"]["/api/health/ready"]["get"]["responses"][str(response.status_code)]
    schema = {"components": document["components"], **declared["content"]["application/json"]["schema"]}
    Draft202012Validator(schema).validate(json.loads(response.get_data(), parse_float=Decimal))


def test_a_refusing_broker_makes_the_app_not_ready_naming_the_bus_and_nothing_else(
    app_with_bus: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with_bus(RefusingBus())

    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/api/health/ready")

    assert response.status_code == 503
    assert response.get_json() == {
        "errors": [{"message": "Not ready: bus (failed); retry shortly"}],
        "status": "not_ready",
        "checks": {"storage": "ok", "bus": "failed"},
    }
    _validate_against_the_document(app, response)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "Readiness check bus failed: ConnectionRefusedError: [Errno 111] Connection refused: "
        "amqp://***@broker.internal:5672//"
    ]


def test_the_liveness_route_stays_200_while_the_broker_refuses(app_with_bus: Callable[..., Flask]) -> None:
    app = app_with_bus(RefusingBus())

    assert app.test_client().get("/api/health").status_code == 200


def test_a_hung_broker_answers_503_timeout_and_is_not_asked_again_while_it_hangs(
    app_with_bus: Callable[..., Flask],
) -> None:
    bus = HungBus()
    app = app_with_bus(bus, EVENTHIVE_READINESS_TIMEOUT=0.2)
    client = app.test_client()

    first, second = client.get("/api/health/ready"), client.get("/api/health/ready")
    asked_while_hung = bus.asked
    bus.release.set()

    assert (first.status_code, second.status_code) == (503, 503)
    assert first.get_json()["checks"] == {"storage": "ok", "bus": "timeout"}
    _validate_against_the_document(app, first)
    assert asked_while_hung == 1


def test_once_a_hung_broker_answers_again_the_app_is_ready(app_with_bus: Callable[..., Flask]) -> None:
    bus = HungBus()
    app = app_with_bus(bus, EVENTHIVE_READINESS_TIMEOUT=0.2)
    client = app.test_client()
    assert client.get("/api/health/ready").status_code == 503

    bus.release.set()

    assert client.get("/api/health/ready").status_code == 200


def test_a_plugin_bus_that_cannot_say_whether_it_is_reachable_counts_as_ready(
    app_with_bus: Callable[..., Flask],
) -> None:
    app = app_with_bus(PluginBus())

    response = app.test_client().get("/api/health/ready")

    assert (response.status_code, response.get_json()) == (
        200,
        {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}},
    )


def test_a_closed_hive_is_not_ready(app_with_bus: Callable[..., Flask]) -> None:
    app = app_with_bus(InProcessBus())
    EventHive.hive_for(app).close()

    response = app.test_client().get("/api/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"]["bus"] == "failed"


def test_the_readiness_timeout_must_be_positive() -> None:
    from eventhive_core import ConfigurationError

    with pytest.raises(ConfigurationError, match="readiness_timeout"):
        make_test_app(EVENTHIVE_READINESS_TIMEOUT=0)
