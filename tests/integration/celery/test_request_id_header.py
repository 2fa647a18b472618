"""The request id across Celery: sent as a header while one is bound, read back around the task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("celery")

from celery import Celery
from celery.signals import before_task_publish

from eventhive_core.adapters.celery import CeleryOptions, TaskSender
from eventhive_core.adapters.celery.request_ids import REQUEST_ID_HEADER, request_id_of
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT, EXPIRE_ORDER
from eventhive_core.observability.request_context import request_id_bound


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """The headers of every task published while the test runs (on an in-memory broker)."""
    seen: list[dict[str, Any]] = []

    def keep(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        seen.append(dict(headers or {}))

    before_task_publish.connect(keep, weak=False)
    yield seen
    before_task_publish.disconnect(keep)


@pytest.fixture
def sender() -> Iterator[TaskSender]:
    app = Celery("request-id-test", broker="memory://", set_as_current=False)
    made = TaskSender(CeleryOptions(queue="eventhive-request-id-test"))
    made.attach(app)
    yield made
    app.close()


def test_a_task_sent_while_a_request_id_is_bound_carries_it_in_a_header(
    sender: TaskSender, published: list[dict[str, Any]]
) -> None:
    with request_id_bound("purchase-9"):
        sender.send(EXPIRE_ORDER, ["order-1", "2026-01-01T12:00:00+00:00"])
    sender.send(EXPIRE_ORDER, ["order-2", "2026-01-01T12:00:00+00:00"])

    assert [headers.get(REQUEST_ID_HEADER) for headers in published] == ["purchase-9", None]


def test_a_task_runs_with_its_header_else_with_its_envelope_s_request_id() -> None:
    envelope = json.dumps({"id": "e1", "type": "order:created", "request_id": "from-envelope"})
    expire = SimpleNamespace(name=EXPIRE_ORDER, request=SimpleNamespace(**{REQUEST_ID_HEADER: "from-header"}))
    deliver = SimpleNamespace(name=DELIVER_EVENT, request=SimpleNamespace())
    unsafe = SimpleNamespace(name=EXPIRE_ORDER, request=SimpleNamespace(**{REQUEST_ID_HEADER: "bad id\nforged"}))

    assert request_id_of(expire, ["order-1"]) == "from-header"
    assert request_id_of(deliver, [envelope, "subscriber"]) == "from-envelope"
    assert request_id_of(deliver, ["not json", "subscriber"]) is None
    assert request_id_of(unsafe, ["order-1"]) is None
