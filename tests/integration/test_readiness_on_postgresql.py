"""``GET /api/health/ready`` on a PostgreSQL cluster the test owns: 503 while it is stopped, 200 once it is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from eventhive_flask import EventHive
from eventhive_flask.testing import make_test_app

from ..private_servers import PrivatePostgres

# Trust authentication ignores it; it must never be shown.
PASSWORD = "pg-s3cret-password"


@pytest.fixture
def app_on(private_postgres: PrivatePostgres) -> Iterator[Flask]:
    from eventhive_core.adapters.sqlalchemy import upgrade

    url = private_postgres.url(password=PASSWORD)
    upgrade(url)
    app = make_test_app(EVENTHIVE_STORAGE="sqlalchemy", EVENTHIVE_DATABASE_URL=url)
    yield app
    EventHive.hive_for(app).close()


def _ready(app: Flask) -> tuple[int, object]:
    response = app.test_client().get("/api/health/ready")
    return response.status_code, response.get_json()


def _ready_within(app: Flask, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _ready(app)[0] != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_the_app_is_not_ready_while_its_postgresql_is_stopped_and_ready_once_it_is_back(
    app_on: Flask, private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    assert _ready(app_on) == (200, {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}})

    private_postgres.stop()
    with caplog.at_level(logging.WARNING):
        response = app_on.test_client().get("/api/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"storage": "failed", "bus": "ok"}
    text = response.get_data(as_text=True)
    assert PASSWORD not in text
    assert str(private_postgres.port) not in text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("Readiness check storage failed: ") for w in warnings), warnings
    assert not [w for w in warnings if PASSWORD in w]

    private_postgres.start()
    assert _ready_within(app_on, 10)
