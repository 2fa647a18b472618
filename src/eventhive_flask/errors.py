"""Errors as the original's JSON: ``{"errors": [{"message": ..., "field": ...}]}`` with the right status.

Three kinds reach a client:

- an :class:`~eventhive_core.EventHiveError` (a rule said no): its own status and body;
- an HTTP error raised by Flask or Werkzeug (unknown route, wrong method, body too large): its
  status and a short message in the same shape;
- anything else: a 500 "Something went wrong", logged with its traceback and never sent.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from eventhive_core import ConfigurationError, EventHiveError
from eventhive_flask.draining import drain_body
from eventhive_flask.responses import json_text_response

log = logging.getLogger("eventhive_flask")

#: The body of every unexpected failure (the original sent 400 "Error: Something went wrong!").
UNEXPECTED_MESSAGE = "Something went wrong"

#: Messages for HTTP errors that Flask or Werkzeug raise before a view runs.
HTTP_MESSAGES: dict[int, str] = {
    400: "Bad request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request body too large",
    415: "Content-Type must be application/json",
}


class ApiError(EventHiveError):
    """An HTTP-level refusal raised by the extension itself (bad JSON, CSRF, wrong content type).

    Args:
        status_code: The HTTP status to answer with.
        message: The public message.
    """

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(message)


def error_body(message: str, field: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Return the original's error body for one message."""
    entry = {"message": message}
    if field is not None:
        entry["field"] = field
    return {"errors": [entry]}


def json_error(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    """Return a JSON error response."""
    response = json_text_response(json.dumps(body), status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_eventhive_error(exc: EventHiveError) -> Response:
    """Turn a refusal of the core (or of the extension) into its response."""
    if isinstance(exc, ConfigurationError) or (exc.status_code >= 500 and type(exc) is EventHiveError):
        # Configuration details (paths, names, sometimes secrets' lengths) are for the log only.
        log.error("EventHive failed on %s %s", request.method, request.path, exc_info=exc)
        return json_error(500, error_body(UNEXPECTED_MESSAGE))
    return json_error(exc.status_code, exc.to_dict())


def from_http_exception(exc: HTTPException) -> Response:
    """Turn a Werkzeug HTTP error into the original's shape, keeping its status and headers.

    An error that already carries its answer (a rate limit's 429 with ``Retry-After``) keeps it.
    """
    if isinstance(exc.response, Response):
        return exc.response
    status = exc.code or 500
    if status >= 500:
        log.error("HTTP %s on %s %s", status, request.method, request.path, exc_info=exc)
        return json_error(status, error_body(UNEXPECTED_MESSAGE))
    message = HTTP_MESSAGES.get(status) or exc.name
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return json_error(status, error_body(message), headers)


def from_unexpected(exc: Exception) -> Response:
    """Log an unexpected failure with its traceback and answer 500 without details."""
    log.error("Unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return json_error(500, error_body(UNEXPECTED_MESSAGE))


def handle_any(exc: Exception) -> Response:
    """Error handler for everything under the API blueprint."""
    if isinstance(exc, EventHiveError):
        return from_eventhive_error(exc)
    if isinstance(exc, HTTPException):
        return from_http_exception(exc)
    return from_unexpected(exc)


def register_app_handlers(app: Flask, api_root: str) -> None:
    """Answer routing errors (404, 405) and size errors (413) under ``api_root`` in the original's shape.

    They happen before any blueprint is chosen, so they need an app-level handler. Other paths
    keep the app's own error pages; an app's handler for a specific code still wins over ours.
    """

    def handle_http(exc: HTTPException) -> Response | HTTPException:
        if request.path == api_root or request.path.startswith(api_root + "/"):
            drain_body()  # a routing error is answered before any body is read
            return from_http_exception(exc)
        return exc

    app.register_error_handler(HTTPException, handle_http)


__all__ = [
    "HTTP_MESSAGES",
    "UNEXPECTED_MESSAGE",
    "ApiError",
    "error_body",
    "from_eventhive_error",
    "from_http_exception",
    "from_unexpected",
    "handle_any",
    "json_error",
    "register_app_handlers",
]
