"""The OpenAPI 3.1 document of the API, generated from the request and response models.

Served at ``<prefix>/api/openapi.json``. It says exactly what the server accepts (types, required
fields, lengths, patterns and bounds, from the core's own rules) and what it answers: each
operation lists every status it can answer with, errors in the original's shape. Tests drive the
real API and validate each response against this document, and schemathesis fuzzes a real
server with it (``tests/fuzz``).

A few parts depend on the running server's settings: the currency's decimals (the prices'
``multipleOf`` and pattern), the most units per order, the payment provider's name (the webhook
route) and the cookie's name; and a service of a split (``EVENTHIVE_ROLE``) documents only the
paths it serves (:mod:`eventhive_flask.roles`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from eventhive_core import __version__
from eventhive_core.domain.ids import ID_PATTERN
from eventhive_core.domain.money import currency_exponent
from eventhive_core.domain.read_models import CURSOR_PATTERN, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from eventhive_core.domain.validation import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_IDEMPOTENCY_KEY,
    MAX_PRICE,
    MAX_PRICE_EXPONENT,
    price_text_pattern,
)
from eventhive_flask import schemas as s
from eventhive_flask.responses import json_text_response
from eventhive_flask.roles import serves
from eventhive_flask.state import current_state

#: A response body: a model, a ``(model,)`` tuple for a JSON array of it, or None for no body.
Body = type[BaseModel] | tuple[type[BaseModel]] | None

#: Who may call: anyone (``none``), anyone but the caller matters (``optional``), or a signed-in caller.
Security = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class Operation:
    """One documented operation.

    Attributes:
        method: Lower-case HTTP method.
        path: Path under the API root, with ``{name}`` parameters.
        summary: One line for humans.
        responses: Status → response body.
        body: The request model, if the operation takes a JSON body.
        body_required: Whether the body must be there (an empty body is read as ``{}``).
        security: Whether the caller must be signed in (``required``), may be (``optional``), or
            does not matter (``none``).
        query: Names of query parameters.
        idempotent: Whether it honours ``Idempotency-Key``.
        replays: Statuses an earlier answer under the same key may be given again with.
        sets_cookie: Statuses whose response sets (or clears) the cookie.
        descriptions: Statuses whose meaning here is not the usual one, and what it is.
    """

    method: str
    path: str
    summary: str
    responses: dict[int, Body]
    body: type[BaseModel] | None = None
    body_required: bool = True
    security: Security = "none"
    query: tuple[str, ...] = field(default=())
    idempotent: bool = False
    replays: tuple[int, ...] = field(default=())
    sets_cookie: tuple[int, ...] = field(default=())
    descriptions: dict[int, str] = field(default_factory=dict)


_E = s.ErrorOut
#: Errors any operation may answer with: an unexpected failure, storage briefly unavailable.
_COMMON: dict[int, Body] = {500: _E, 503: _E}
#: Errors of an operation that reads a JSON body: invalid, cross-site or non-JSON with the cookie
#: (CSRF), too large, not JSON.
_READS_BODY: dict[int, Body] = {400: _E, 403: _E, 413: _E, 415: _E, **_COMMON}
#: Errors of an unsafe operation that reads no body (a body it is sent is never read): the CSRF rule's.
_UNSAFE: dict[int, Body] = {403: _E, **_COMMON}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/users/signup",
        "Sign up (sets the cookie)",
        {201: s.UserOut, 429: _E, **_READS_BODY},
        body=s.SignUpIn,
        sets_cookie=(201,),
    ),
    Operation(
        "post",
        "/users/signin",
        "Sign in (sets the cookie)",
        {200: s.UserOut, 429: _E, **_READS_BODY},
        body=s.CredentialsIn,
        sets_cookie=(200,),
    ),
    Operation(
        "post",
        "/users/signout",
        "Sign out (clears the cookie, revokes the token)",
        {200: s.EmptyOut, **_UNSAFE},
        body=s.NoBodyIn,
        body_required=False,
        security="optional",
        sets_cookie=(200,),
    ),
    Operation(
        "get",
        "/users/currentuser",
        "The signed-in user, or null",
        {200: s.CurrentUserOut, **_COMMON},
        security="optional",
    ),
    Operation(
        "post",
        "/users/tokens",
        "Trade credentials for a Bearer token",
        {200: s.TokenOut, 429: _E, **_READS_BODY},
        body=s.CredentialsIn,
    ),
    Operation(
        "get",
        "/tickets",
        "Tickets with a free unit (or, with owner=me, the caller's own)",
        {200: (s.TicketOut,), 400: _E, 401: _E, **_COMMON},
        security="optional",
        query=("owner", "limit", "cursor"),
    ),
    Operation(
        "post",
        "/tickets",
        "List a ticket",
        {201: s.TicketOut, 401: _E, **_READS_BODY},
        body=s.TicketIn,
        security="required",
    ),
    Operation("get", "/tickets/{ticketId}", "One ticket", {200: s.TicketOut, 404: _E, **_COMMON}),
    Operation(
        "put",
        "/tickets/{ticketId}",
        "Edit a ticket (owner only, never while a unit is held)",
        {200: s.TicketOut, 401: _E, 404: _E, 409: _E, **_READS_BODY},
        body=s.TicketIn,
        security="required",
    ),
    Operation(
        "get",
        "/orders",
        "The caller's orders",
        {200: (s.OrderOut,), 400: _E, 401: _E, **_COMMON},
        security="required",
        query=("limit", "cursor"),
    ),
    Operation(
        "post",
        "/orders",
        "Reserve units of a ticket",
        {201: s.OrderOut, 401: _E, 404: _E, 409: _E, 422: _E, 429: _E, **_READS_BODY},
        body=s.OrderIn,
        security="required",
        idempotent=True,
        replays=(201, 400, 404),  # the order placed with the key, or a refusal the core kept
    ),
    Operation(
        "get",
        "/orders/{orderId}",
        "One of the caller's orders",
        {200: s.OrderOut, 401: _E, 404: _E, **_COMMON},
        security="required",
    ),
    Operation(
        "delete",
        "/orders/{orderId}",
        "Cancel one of the caller's unpaid orders",
        {204: None, 400: _E, 401: _E, 404: _E, 409: _E, **_UNSAFE},
        security="required",
    ),
    Operation(
        "post",
        "/payments",
        "Pay for an order",
        {201: s.PaymentOut, 401: _E, 404: _E, 409: _E, 422: _E, 502: _E, **_READS_BODY},
        body=s.PaymentIn,
        security="required",
        idempotent=True,
        replays=(201, 400, 401, 404),  # whatever the payment answered, but 409, 429 and 5xx
    ),
    Operation(
        "post",
        "/orders/{orderId}/refund",
        "The seller refunds a complete order of their ticket (an addition)",
        {200: s.OrderOut, 400: _E, 401: _E, 404: _E, 409: _E, 502: _E, **_UNSAFE},
        body=s.NoBodyIn,
        body_required=False,
        security="required",
    ),
    Operation(
        "post",
        "/payments/webhooks/{provider}",
        "A payment provider's signed webhook (the raw body is verified; no cookie, no CSRF)",
        {200: s.WebhookOut, 400: _E, 404: _E, 409: _E, 413: _E, 502: _E, **_COMMON},
        body=s.ProviderEventIn,
    ),
    Operation("get", "/health", "Liveness and storage reachability", {200: s.HealthOut, **_COMMON}),
    Operation(
        "get",
        "/health/ready",
        "Readiness: the storage, the event bus and a Redis denylist answer",
        {200: s.ReadyOut, 500: _E, 503: s.NotReadyOut},
        descriptions={503: "Not ready: a check failed or timed out (its name is given, the reason is logged)"},
    ),
)

_QUERY_SCHEMAS: dict[str, dict[str, object]] = {
    "owner": {"type": "string", "enum": ["me"], "description": "The caller's own tickets, whatever their state."},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50},
    "cursor": {
        "type": "string",
        "maxLength": MAX_CURSOR_LENGTH,
        "pattern": CURSOR_PATTERN,
        "description": "Opaque; take it from the Link header of the previous page (any other: 400).",
    },
}

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Validation error (one entry per failing rule, with its field), unreadable JSON, or refused by a rule",
    401: "Not signed in, or not the owner",
    403: "Cross-site or non-JSON request with the cookie",
    404: "Unknown or malformed id",
    409: "Conflict (concurrent change, or a request still running)",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Idempotency-Key reused with another request",
    429: "Too many attempts; retry after the number of seconds in Retry-After",
    500: "Unexpected failure (details are logged, never sent)",
    502: "Payment provider unavailable",
    503: "Storage temporarily unavailable",
}


@dataclass(frozen=True)
class _Server:
    """What of the running server's settings the document shows."""

    api_root: str
    cookie_name: str
    places: int
    max_units: int
    provider: str
    role: str | None = None


def _models(operations: tuple[Operation, ...]) -> list[tuple[type[BaseModel], Literal["validation", "serialization"]]]:
    found: dict[type[BaseModel], Literal["validation", "serialization"]] = {}
    for op in operations:
        if op.body is not None:
            found[op.body] = "validation"
        for body in op.responses.values():
            model = body[0] if isinstance(body, tuple) else body
            if model is not None:
                # A model whose custom serializer hides its fields says so (PaymentOut).
                found[model] = model.model_config.get("json_schema_mode_override") or "serialization"
    return list(found.items())


def _schema_ref(model: type[BaseModel] | tuple[type[BaseModel]]) -> dict[str, object]:
    if isinstance(model, tuple):
        return {"type": "array", "items": {"$ref": s.REF.format(model=model[0].__name__)}}
    return {"$ref": s.REF.format(model=model.__name__)}


def _settings_schemas(server: _Server) -> dict[str, object]:
    """The component schemas that follow the server's settings (see ``eventhive_flask.schemas``)."""
    step = Decimal(1).scaleb(-server.places)
    return {
        "Price": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": int(MAX_PRICE),
            "multipleOf": int(step) if server.places == 0 else float(step),
            "description": f"A price: above 0, at most {MAX_PRICE:,}, at most {server.places} decimal places.",
        },
        "PriceText": {
            "type": "string",
            "pattern": price_text_pattern(server.places),
            "description": (
                "A price as text, as the original's client sent it (`25.50`) and its isFloat read it: "
                "' ' and tabs around it, an optional '+', ASCII digits with an optional point, an optional "
                f"exponent from -{MAX_PRICE_EXPONENT} to {MAX_PRICE_EXPONENT}; and the same bounds as a "
                "number, which the pattern spells out."
            ),
        },
        "PriceIn": {"anyOf": [{"$ref": s.REF.format(model="Price")}, {"$ref": s.REF.format(model="PriceText")}]},
        "Quantity": {
            "type": "integer",
            "minimum": 1,
            "maximum": server.max_units,
            "description": "Units to reserve at once (EVENTHIVE_MAX_UNITS_PER_ORDER).",
        },
    }


def _parameters(op: Operation, server: _Server) -> list[dict[str, object]]:
    paths: dict[str, dict[str, object]] = {
        "ticketId": {"type": "string", "pattern": ID_PATTERN},
        "orderId": {"type": "string", "pattern": ID_PATTERN},
        "provider": {"type": "string", "enum": [server.provider]},
    }
    parameters: list[dict[str, object]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in paths.items()
        if "{" + name + "}" in op.path
    ]
    parameters += [{"name": q, "in": "query", "required": False, "schema": _QUERY_SCHEMAS[q]} for q in op.query]
    if op.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_IDEMPOTENCY_KEY,
                    "pattern": IDEMPOTENCY_KEY_PATTERN,
                },
                "description": "Same key, same caller: the first answer is given again (see the API page).",
            }
        )
    return parameters


def _headers(op: Operation, status: int) -> dict[str, object]:
    headers: dict[str, object] = {}
    if status in op.sets_cookie:
        headers["Set-Cookie"] = {"required": True, "schema": {"type": "string"}, "description": "The session cookie."}
    if status == 200 and op.query:
        headers["Link"] = {
            "required": False,
            "schema": {"type": "string"},
            "description": 'The next page, `<url>; rel="next"` (RFC 8288); absent on the last page.',
        }
    if status in op.replays:
        headers["Idempotent-Replayed"] = {
            "required": False,
            "schema": {"type": "string", "enum": ["true"]},
            "description": "This is the answer an earlier request with the same Idempotency-Key got.",
        }
    if status == 429:
        headers["Retry-After"] = {
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait.",
        }
    return headers


def _security(op: Operation) -> list[dict[str, list[str]]]:
    signed_in: list[dict[str, list[str]]] = [{"cookieAuth": []}, {"bearerAuth": []}]
    if op.security == "required":
        return signed_in
    if op.security == "optional":
        return [{}, *signed_in]
    return []


def _operation(op: Operation, server: _Server) -> dict[str, object]:
    doc: dict[str, object] = {"summary": op.summary, "operationId": f"{op.method}_{op.path}".replace("/", "_")}
    if parameters := _parameters(op, server):
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _schema_ref(op.body)}},
        }
    responses: dict[str, object] = {}
    for status, model in sorted(op.responses.items()):
        entry: dict[str, object] = {"description": op.descriptions.get(status, _DESCRIPTIONS[status])}
        if headers := _headers(op, status):
            entry["headers"] = headers
        if model is not None:
            entry["content"] = {"application/json": {"schema": _schema_ref(model)}}
        responses[str(status)] = entry
    doc["responses"] = responses
    doc["security"] = _security(op)
    return doc


@functools.lru_cache(maxsize=16)
def _document(server: _Server) -> str:
    operations = tuple(op for op in OPERATIONS if serves(server.role, op.path))
    _, defs = models_json_schema(_models(operations), ref_template=s.REF, by_alias=True)
    schemas: dict[str, Any] = {**defs.get("$defs", {}), **_settings_schemas(server)}
    for schema in schemas.values():
        for field_schema in schema.get("properties", {}).values():
            field_schema.pop("title", None)  # what pydantic derives from the name ("Ticketid") says nothing
    paths: dict[str, dict[str, object]] = {}
    for op in operations:
        paths.setdefault(server.api_root + op.path, {})[op.method] = _operation(op, server)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "EventHive API",
            "version": __version__,
            "description": (
                "The original EventHive's JSON API: camelCase bodies, errors as "
                '{"errors": [{"message", "field"}]}. Text fields must be Unicode text: a lone UTF-16 '
                "surrogate (legal in JSON) is refused with 400 naming the field. Every unsafe request "
                "sent with the cookie must be JSON and come from this site (403 otherwise); Bearer "
                "requests are exempt."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": server.cookie_name},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
    return json.dumps(document)


def build_openapi(
    api_root: str,
    cookie_name: str,
    *,
    currency: str = "USD",
    max_units_per_order: int = 10,
    payment_provider: str = "fake",
    role: str | None = None,
) -> str:
    """Return the OpenAPI 3.1 document (JSON text) for an API mounted at ``api_root`` with these settings.

    ``role`` names a service of a split: the document then lists only the paths it serves.
    """
    server = _Server(api_root, cookie_name, currency_exponent(currency), max_units_per_order, payment_provider, role)
    return _document(server)


def openapi_view() -> Response:
    """Serve the document of this app's API."""
    state = current_state()
    text = build_openapi(
        state.api_root,
        state.flask.cookie_name,
        currency=state.settings.currency,
        max_units_per_order=state.settings.max_units_per_order,
        payment_provider=state.hive.payment_gateway.name,
        role=state.settings.role,
    )
    return json_text_response(text)


__all__ = ["OPERATIONS", "Operation", "build_openapi", "openapi_view"]
