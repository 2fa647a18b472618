"""``GET /api/health/ready`` with the ``nats`` event bus, on a NATS server the test owns and stops."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from eventhive_flask import EventHive
from eventhive_flask.testing import make_test_app

from ...private_servers import PrivateNats


@pytest.fixture
def nats_app(private_nats: PrivateNats) -> Iterator[Flask]:
    app = make_test_app(EVENTHIVE_EVENT_BUS="nats", EVENTHIVE_NATS_URL=private_nats.url, EVENTHIVE_NATS_PREFIX="ready")
    yield app
    EventHive.hive_for(app).close()


def _ready(app: Flask) -> tuple[int, Any]:
    response = app.test_client().get("/api/health/ready")
    return response.status_code, response.get_json()


def test_the_app_is_not_ready_while_its_nats_server_is_stopped_and_ready_once_it_is_back(
    nats_app: Flask, private_nats: PrivateNats, caplog: pytest.LogCaptureFixture
) -> None:
    assert _ready(nats_app) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}})

    private_nats.stop()
    with caplog.at_level(logging.WARNING, logger="eventhive_core.service_layer.readiness"):
        deadline = time.monotonic() + 10
        # The client notices the lost connection as soon as its socket closes, a moment after the kill.
        while _ready(nats_app)[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, body = _ready(nats_app)

    assert (status, body["checks"]) == (503, {"storage": "ok", "bus": "failed"})
    assert any(r.getMessage().startswith("Readiness check bus failed: ") for r in caplog.records)

    private_nats.start()
    deadline = time.monotonic() + 15
    while _ready(nats_app)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ready(nats_app) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}})


def test_the_app_is_not_ready_when_its_nats_server_was_never_reachable(private_nats: PrivateNats) -> None:
    private_nats.stop()
    app = make_test_app(
        EVENTHIVE_EVENT_BUS="nats", EVENTHIVE_NATS_URL=private_nats.url, EVENTHIVE_READINESS_TIMEOUT=0.5
    )
    try:
        status, body = _ready(app)
    finally:
        EventHive.hive_for(app).close()

    # nats-py keeps trying a first connection until the bus's connect timeout (5 s), so the check runs out of
    # time: whether the bus gives up first (failed) or the probe stops waiting first (timeout) is a race.
    assert status == 503
    assert body["checks"]["storage"] == "ok"
    assert body["checks"]["bus"] in {"failed", "timeout"}
