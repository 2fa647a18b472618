"""The request id of each HTTP request, and one log line per request.

Before anything else runs, a request gets its id: the caller's ``X-Request-ID`` when it is safe
(short, made of safe characters: see :func:`~eventhive_core.observability.request_context.sanitize_request_id`),
else a new one. It is bound for the whole request, so every log line and every event the request
records carries it, and it goes back in the response's ``X-Request-ID`` header, errors included.
Each request then writes one line on the ``eventhive_flask.requests`` logger: method, path,
route, status and duration; never the query string, cookies or the ``Authorization`` header.
"""

from __future__ import annotations

import logging
import time
from contextvars import Token

from flask import Flask, Response, request

from eventhive_core.observability.request_context import (
    REQUEST_ID_HEADER,
    bind_request_id,
    current_request_id,
    new_request_id,
    reset_request_id,
    sanitize_request_id,
)

#: The logger of the one line per request.
REQUEST_LOGGER = "eventhive_flask.requests"

log = logging.getLogger(REQUEST_LOGGER)

# Keys of what the hooks keep in the request's WSGI environ (the contextvar's reset token, the
# start time): per request, where flask.g is shared by requests nested in one app context (the
# pages' in-process API calls), which would lose the outer request's token.
_BINDING = "eventhive.request_id_binding"
_STARTED = "eventhive.request_started"


def init_request_ids(app: Flask) -> None:
    """Give every request of ``app`` a request id, send it back, and log one line per request."""
    # First among the before-request hooks: a hook that answers early (a rate limit's 429) still
    # answers with the id, and its own lines carry it.
    app.before_request_funcs.setdefault(None, []).insert(0, _bind)
    app.after_request(_send_back)
    app.teardown_request(_unbind)


def _bind() -> None:
    request_id = sanitize_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
    request.environ[_BINDING] = bind_request_id(request_id)
    request.environ.setdefault(_STARTED, time.perf_counter())


def _send_back(response: Response) -> Response:
    request_id = current_request_id()
    if request.environ.get(_BINDING) is None or request_id is None:
        # Another hook failed before ours ran: the answer still gets an id of its own.
        _bind()
        request_id = current_request_id()
    response.headers[REQUEST_ID_HEADER] = str(request_id)
    started = request.environ.get(_STARTED)
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    rule = request.url_rule.rule if request.url_rule is not None else None
    log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "route": rule,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def _unbind(exc: BaseException | None) -> None:
    token: Token[str | None] | None = request.environ.pop(_BINDING, None)
    if token is not None:
        try:
            reset_request_id(token)
        except ValueError:
            # Bound in another context (a test client that copies contexts): clear it instead.
            bind_request_id(None)


__all__ = ["REQUEST_LOGGER", "init_request_ids"]
