"""``GET /api/health/ready`` with the ``celery`` event bus: ready while the broker answers, not otherwise.

The machine's brokers are only connected to; the one a test stops is its own Redis
(``private_redis``), which also holds the ``redis`` denylist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from eventhive_flask import EventHive
from eventhive_flask.testing import make_test_app

from ...private_servers import PrivateRedis, free_port
from .conftest import Broker


@pytest.fixture
def celery_app() -> Iterator[Callable[..., Flask]]:
    """``build(**config)``: an app whose event bus is ``celery``; every Hive is closed afterwards."""
    built: list[Flask] = []

    def build(**config: Any) -> Flask:
        app = make_test_app(EVENTHIVE_EVENT_BUS="celery", **config)
        built.append(app)
        return app

    yield build
    for app in built:
        EventHive.hive_for(app).close()


def _ready(app: Flask) -> tuple[int, Any]:
    response = app.test_client().get("/api/health/ready")
    return response.status_code, response.get_json()


def test_the_app_is_ready_while_its_broker_answers(celery_app: Callable[..., Flask], broker: Broker) -> None:
    app = celery_app(EVENTHIVE_EVENT_BUS_OPTIONS=broker.options())

    assert _ready(app) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}})


@pytest.mark.parametrize("scheme", ["redis://:s3cret@127.0.0.1:{port}/0", "amqp://guest:s3cret@127.0.0.1:{port}//"])
def test_the_app_is_not_ready_when_no_broker_listens_at_its_address(
    celery_app: Callable[..., Flask], scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = celery_app(EVENTHIVE_EVENT_BUS_OPTIONS={"broker_url": scheme.format(port=free_port())})

    with caplog.at_level(logging.WARNING):
        status, body = _ready(app)

    assert (status, body["checks"]) == (503, {"storage": "ok", "bus": "failed"})
    assert all("s3cret" not in record.getMessage() for record in caplog.records)


def test_the_app_is_not_ready_while_its_redis_broker_and_denylist_are_stopped_and_ready_once_it_is_back(
    celery_app: Callable[..., Flask], private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    app = celery_app(
        EVENTHIVE_EVENT_BUS_OPTIONS={"broker_url": private_redis.url},
        EVENTHIVE_DENYLIST="redis",
        EVENTHIVE_REDIS_URL=private_redis.url,
    )
    assert _ready(app) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok", "denylist": "ok"}})

    private_redis.stop()
    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/api/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"storage": "ok", "bus": "failed", "denylist": "failed"}
    assert private_redis.password not in response.get_data(as_text=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(w.split(":")[0] for w in warnings) == [
        "Readiness check bus failed",
        "Readiness check denylist failed",
    ]
    assert not [w for w in warnings if private_redis.password in w]

    private_redis.start()
    deadline = time.monotonic() + 10
    while _ready(app)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ready(app) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok", "denylist": "ok"}})
