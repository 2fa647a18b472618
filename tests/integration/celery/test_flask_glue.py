"""``init_celery(app)``: the Flask docs' pattern over the app's Hive (in-memory broker, no worker needed)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from flask import Flask, current_app

from eventhive_core.adapters.celery import hive_for
from eventhive_core.adapters.celery.beat import SWEEP_ENTRY
from eventhive_core.adapters.celery.task_names import ALL, EXPIRE_ORDER
from eventhive_flask import init_celery
from eventhive_flask.state import state_of
from eventhive_flask.testing import make_test_app


@pytest.fixture
def queue() -> str:
    return f"eventhive-flask-{secrets.token_hex(4)}"


@pytest.fixture
def app(queue: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    made = make_test_app(
        EVENTHIVE_SCHEDULER="celery",
        EVENTHIVE_SCHEDULER_OPTIONS={"queue": queue},
        EVENTHIVE_SWEEP_INTERVAL=7,
        CELERY={"broker_url": "memory://", "task_ignore_result": True},
    )
    yield made
    state_of(made).hive.close()


@pytest.fixture
def celery_app(app: Flask) -> Iterator[Celery]:
    made = init_celery(app)
    yield made
    made.close()


def test_init_celery_builds_the_celery_app_from_the_flask_apps_celery_config(app: Flask, celery_app: Celery) -> None:
    assert app.extensions["celery"] is celery_app
    assert celery_app.conf.broker_url == "memory://"
    assert celery_app.main == app.name
    assert init_celery(app) is celery_app


def test_the_broker_comes_from_celery_broker_url_when_it_is_set(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://from-the-environment")

    celery_app = init_celery(app)
    try:
        assert app.config["CELERY"]["broker_url"] == "memory://from-the-environment"
        assert celery_app.conf.broker_url == "memory://from-the-environment"
    finally:
        celery_app.close()


def test_tasks_run_inside_the_flask_app_context(app: Flask, celery_app: Celery) -> None:
    @celery_app.task(name="tests.app_name")
    def app_name() -> Any:
        return current_app.name

    assert app_name.apply().get() == app.name


def test_the_eventhive_tasks_find_the_apps_hive_and_go_to_its_queue(app: Flask, celery_app: Celery, queue: str) -> None:
    assert hive_for(celery_app) is state_of(app).hive
    assert set(ALL) <= set(celery_app.tasks)
    assert celery_app.amqp.router.route({}, EXPIRE_ORDER)["queue"].name == queue
    assert celery_app.conf.task_default_queue == queue
    assert celery_app.conf.beat_schedule[SWEEP_ENTRY]["schedule"] == 7.0
    # The Hive's scheduler sends through this Celery app from now on.
    assert state_of(app).hive.scheduler.sender.app is celery_app


def test_an_expiry_task_cancels_nothing_for_an_unknown_order(celery_app: Celery) -> None:
    assert celery_app.tasks[EXPIRE_ORDER].apply(args=["01a00000-0000-7000-8000-00000000dead"]).get() == "not_found"


def test_an_environment_only_deployment_sets_broker_and_transport_options_through_the_eventhive_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    app = make_test_app(
        EVENTHIVE_SCHEDULER="celery",
        EVENTHIVE_SCHEDULER_OPTIONS={"broker_url": "memory://", "transport_options": {"visibility_timeout": 7200}},
    )
    celery_app = init_celery(app)
    try:
        assert celery_app.conf.broker_url == "memory://"
        assert celery_app.conf.broker_transport_options == {"visibility_timeout": 7200}
        assert app.config["CELERY"]["broker_transport_options"] == {"visibility_timeout": 7200}
    finally:
        celery_app.close()
        state_of(app).hive.close()


def test_create_app_sets_up_celery_when_the_scheduler_is_celery(
    tmp_path: Any, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventhive_flask import create_app

    monkeypatch.setenv("CELERY_BROKER_URL", "memory://from-the-environment")
    made = create_app(
        {
            "EVENTHIVE_DATA_DIR": str(tmp_path),
            "EVENTHIVE_STORAGE": "memory",
            "EVENTHIVE_SCHEDULER": "celery",
            "EVENTHIVE_SCHEDULER_OPTIONS": {"queue": queue},
            "TESTING": True,
        }
    )
    try:
        assert made.config["CELERY"]["broker_url"] == "memory://from-the-environment"
        assert hive_for(made.extensions["celery"]) is state_of(made).hive
    finally:
        made.extensions["celery"].close()
        state_of(made).hive.close()


def test_create_app_leaves_celery_alone_with_the_in_process_scheduler(tmp_path: Any) -> None:
    from eventhive_flask import create_app

    made = create_app({"EVENTHIVE_DATA_DIR": str(tmp_path), "EVENTHIVE_STORAGE": "memory", "TESTING": True})
    try:
        assert "celery" not in made.extensions
    finally:
        state_of(made).hive.close()
