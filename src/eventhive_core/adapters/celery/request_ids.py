"""The request id across Celery: a message header on the way out, bound around the task on the way in.

Every ``eventhive.*`` task sent while a request id is bound carries it in the
:data:`REQUEST_ID_HEADER` header (so an expiry scheduled while handling an order's
``order:created`` carries the id of the request that placed the order). A worker binds it for
the whole run of the task, Celery's own "received"/"succeeded" lines aside, so the task's lines,
Celery's "succeeded" line and the events the task records carry it. An event delivery also reads
it from its envelope, so deliveries sent by a relay outside any request still have it.
"""

from __future__ import annotations

import json
from contextvars import Token
from typing import Any

from eventhive_core.adapters.celery.task_names import DELIVER_EVENT
from eventhive_core.observability.request_context import (
    bind_request_id,
    current_request_id,
    reset_request_id,
    sanitize_request_id,
)

#: The message header that carries the request id (a header, so workers of older releases ignore it).
REQUEST_ID_HEADER = "eventhive_request_id"

# Tokens of the ids bound by task_prerun, by task id, for task_postrun to put back.
_bound: dict[str, Token[str | None]] = {}


def request_id_headers() -> dict[str, str]:
    """Return the headers that carry this context's request id (empty when none is bound)."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id is not None else {}


def request_id_of(task: Any, args: Any) -> str | None:
    """Return the request id a task runs for: its header, else (for an event delivery) its envelope's.

    Args:
        task: The Celery task about to run (``task.request`` holds the message's headers).
        args: Its positional arguments.
    """
    header = getattr(getattr(task, "request", None), REQUEST_ID_HEADER, None)
    if isinstance(header, str):
        return sanitize_request_id(header)
    if getattr(task, "name", None) == DELIVER_EVENT and args:
        try:
            found = json.loads(args[0]).get("request_id")
        except (ValueError, TypeError, AttributeError):
            return None
        return sanitize_request_id(found) if isinstance(found, str) else None
    return None


def _on_prerun(task_id: str | None = None, task: Any = None, args: Any = None, **kwargs: Any) -> None:
    if task_id is None or not str(getattr(task, "name", "")).startswith("eventhive."):
        return
    _bound[task_id] = bind_request_id(request_id_of(task, args))


def _on_postrun(task_id: str | None = None, **kwargs: Any) -> None:
    token = _bound.pop(task_id, None) if task_id is not None else None
    if token is not None:
        try:
            reset_request_id(token)
        except ValueError:
            # Bound in another context (a pool that ran prerun elsewhere): clear it here instead.
            bind_request_id(None)


def connect_request_id_signals() -> None:
    """Bind each EventHive task's request id while it runs, in this process (idempotent)."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="eventhive.request_id.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="eventhive.request_id.postrun")


__all__ = ["REQUEST_ID_HEADER", "connect_request_id_signals", "request_id_headers", "request_id_of"]
