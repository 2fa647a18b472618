"""The OpenAPI 3.1 document of the API, generated from the request and response models.

Served at ``<prefix>/api/openapi.json``. Each operation lists every status it can answer with;
a test drives the real API and validates each response against this document.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Literal

from flask import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from eventhive_core import __version__
from eventhive_flask import schemas as s
from eventhive_flask.state import current_state

_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    """One documented operation.

    Attributes:
        method: Lower-case HTTP method.
        path: Path under the API root, with ``{name}`` parameters.
        summary: One line for humans.
        responses: Status → response model, ``list[model]`` marker (a tuple), or None for no body.
        body: The request model, if the operation takes a JSON body.
        auth: Whether a signed-in caller is required.
        query: Names of query parameters.
        idempotent: Whether it honours ``Idempotency-Key``.
    """

    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | tuple[type[BaseModel]] | None]
    body: type[BaseModel] | None = None
    auth: bool = False
    query: tuple[str, ...] = field(default=())
    idempotent: bool = False


_E = s.ErrorOut
#: Errors any operation may answer with.
_COMMON: dict[int, type[BaseModel] | tuple[type[BaseModel]] | None] = {500: _E}
_WRITE: dict[int, type[BaseModel] | tuple[type[BaseModel]] | None] = {400: _E, 403: _E, 413: _E, 415: _E, 500: _E}

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/users/signup", "Sign up (sets the cookie)", {201: s.UserOut, **_WRITE}, body=s.CredentialsIn),
    Operation("post", "/users/signin", "Sign in (sets the cookie)", {200: s.UserOut, **_WRITE}, body=s.CredentialsIn),
    Operation("post", "/users/signout", "Sign out (clears the cookie, revokes the token)", {200: s.EmptyOut, **_WRITE}),
    Operation("get", "/users/currentuser", "The signed-in user, or null", {200: s.CurrentUserOut, **_COMMON}),
    Operation(
        "post",
        "/users/tokens",
        "Trade credentials for a Bearer token",
        {200: s.TokenOut, **_WRITE},
        body=s.CredentialsIn,
    ),
    Operation(
        "get",
        "/tickets",
        "Tickets with a free unit (or, with owner=me, the caller's own)",
        {200: (s.TicketOut,), 400: _E, 401: _E, **_COMMON},
        query=("owner", "limit", "cursor"),
    ),
    Operation("post", "/tickets", "List a ticket", {201: s.TicketOut, 401: _E, **_WRITE}, body=s.TicketIn, auth=True),
    Operation("get", "/tickets/{ticketId}", "One ticket", {200: s.TicketOut, 404: _E, **_COMMON}),
    Operation(
        "put",
        "/tickets/{ticketId}",
        "Edit a ticket (owner only, never while a unit is held)",
        {200: s.TicketOut, 401: _E, 404: _E, 409: _E, **_WRITE},
        body=s.TicketIn,
        auth=True,
    ),
    Operation(
        "get",
        "/orders",
        "The caller's orders",
        {200: (s.OrderOut,), 400: _E, 401: _E, **_COMMON},
        auth=True,
        query=("limit", "cursor"),
    ),
    Operation(
        "post",
        "/orders",
        "Reserve units of a ticket",
        {201: s.OrderOut, 401: _E, 404: _E, 409: _E, 422: _E, **_WRITE},
        body=s.OrderIn,
        auth=True,
        idempotent=True,
    ),
    Operation(
        "get",
        "/orders/{orderId}",
        "One of the caller's orders",
        {200: s.OrderOut, 401: _E, 404: _E, **_COMMON},
        auth=True,
    ),
    Operation(
        "delete",
        "/orders/{orderId}",
        "Cancel one of the caller's unpaid orders",
        {204: None, 400: _E, 401: _E, 403: _E, 404: _E, 409: _E, **_COMMON},
        auth=True,
    ),
    Operation(
        "post",
        "/payments",
        "Pay for an order",
        {201: s.PaymentOut, 401: _E, 404: _E, 409: _E, 422: _E, 502: _E, 503: _E, **_WRITE},
        body=s.PaymentIn,
        auth=True,
        idempotent=True,
    ),
    Operation(
        "post",
        "/orders/{orderId}/refund",
        "The seller refunds a complete order of their ticket (an addition)",
        {200: s.OrderOut, 401: _E, 404: _E, 409: _E, 502: _E, 503: _E, **_WRITE},
        auth=True,
    ),
    Operation(
        "post",
        "/payments/webhooks/{provider}",
        "A payment provider's signed webhook (the raw body is verified; no cookie, no CSRF)",
        {200: s.WebhookOut, 400: _E, 404: _E, 409: _E, 413: _E, 502: _E, 503: _E, **_COMMON},
    ),
    Operation("get", "/health", "Liveness and storage reachability", {200: s.HealthOut, 503: _E, **_COMMON}),
)

_QUERY_SCHEMAS: dict[str, dict[str, object]] = {
    "owner": {"type": "string", "enum": ["me"]},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    "cursor": {"type": "string", "description": "Opaque; take it from the Link header of the previous page."},
}


def _models() -> list[tuple[type[BaseModel], Literal["validation", "serialization"]]]:
    found: dict[type[BaseModel], Literal["validation", "serialization"]] = {}
    for op in OPERATIONS:
        if op.body is not None:
            found[op.body] = "validation"
        for model in op.responses.values():
            if isinstance(model, tuple):
                found[model[0]] = "serialization"
            elif model is not None:
                found[model] = "serialization"
    return list(found.items())


def _schema_ref(model: type[BaseModel] | tuple[type[BaseModel]]) -> dict[str, object]:
    if isinstance(model, tuple):
        return {"type": "array", "items": {"$ref": _REF.format(model=model[0].__name__)}}
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(op: Operation) -> dict[str, object]:
    doc: dict[str, object] = {"summary": op.summary, "operationId": f"{op.method}_{op.path}".replace("/", "_")}
    parameters: list[dict[str, object]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("ticketId", "orderId", "provider")
        if "{" + name + "}" in op.path
    ]
    parameters += [{"name": q, "in": "query", "required": False, "schema": _QUERY_SCHEMAS[q]} for q in op.query]
    if op.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Same key, same caller: the first response is replayed for 24 h.",
            }
        )
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema_ref(op.body)}}}
    responses: dict[str, object] = {}
    for status, model in sorted(op.responses.items()):
        entry: dict[str, object] = {"description": _DESCRIPTIONS.get(status, "Error")}
        if model is not None:
            entry["content"] = {"application/json": {"schema": _schema_ref(model)}}
        responses[str(status)] = entry
    doc["responses"] = responses
    if op.auth:
        doc["security"] = [{"cookieAuth": []}, {"bearerAuth": []}]
    return doc


_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Validation error or refused by a rule",
    401: "Not signed in, or not the owner",
    403: "Cross-site or non-JSON request with the cookie",
    404: "Unknown or malformed id",
    409: "Conflict (concurrent change, or the same Idempotency-Key still running)",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Idempotency-Key reused with another request",
    500: "Unexpected failure (details are logged, never sent)",
    502: "Payment provider unavailable",
    503: "Storage temporarily unavailable",
}


@functools.lru_cache(maxsize=16)
def build_openapi(api_root: str, cookie_name: str) -> str:
    """Return the OpenAPI 3.1 document (JSON text) for an API mounted at ``api_root``."""
    _, defs = models_json_schema(_models(), ref_template=_REF, by_alias=True)
    paths: dict[str, dict[str, object]] = {}
    for op in OPERATIONS:
        paths.setdefault(api_root + op.path, {})[op.method] = _operation(op)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "EventHive API",
            "version": __version__,
            "description": "The original EventHive's JSON API: camelCase bodies, errors as "
            '{"errors": [{"message", "field"}]}.',
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": cookie_name},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
    return json.dumps(document)


def openapi_view() -> Response:
    """Serve the document."""
    state = current_state()
    return Response(build_openapi(state.api_root, state.flask.cookie_name), mimetype="application/json")


__all__ = ["OPERATIONS", "Operation", "build_openapi", "openapi_view"]
