"""Request bodies: JSON objects parsed with decimals, refused cleanly when they are anything else.

Numbers with a fraction are parsed as :class:`~decimal.Decimal`, so ``19.99`` stays 19.99
(never 19.989999...). Malformed JSON, ``NaN``, a body that is not an object, absurd nesting and
bodies over the size limit are refused with a 4xx in the original's error shape, never a 500.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TypeVar

from flask import g, request
from pydantic import BaseModel, ValidationError

from eventhive_flask.errors import ApiError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def is_json_mimetype(mimetype: str) -> bool:
    """Tell whether a mimetype is JSON (``application/json`` or ``application/*+json``)."""
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def json_object() -> dict[str, object]:
    """Return the request's JSON body as a dict (an empty body is ``{}``, as in the original).

    Raises:
        ApiError: 415 for a non-empty body that is not JSON, 400 for malformed JSON or a body
            that is not an object (413 comes from Werkzeug when the body is too large).
    """
    cached = g.get("eventhive_body")
    if cached is not None:
        return dict(cached)
    raw = request.get_data(cache=True)
    if not raw.strip():
        body: dict[str, object] = {}
    else:
        if not is_json_mimetype(request.mimetype):
            raise ApiError(415, "Content-Type must be application/json")
        try:
            parsed = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "The request body is not valid JSON") from exc
        if not isinstance(parsed, dict):
            raise ApiError(400, "The request body must be a JSON object")
        body = parsed
    g.eventhive_body = body
    return dict(body)


def parse(model: type[ModelT]) -> ModelT:
    """Return the request's JSON body shaped by ``model`` (wrong types become blanks the core refuses).

    Raises:
        ApiError: As :func:`json_object`, or 400 if the body cannot be shaped at all.
    """
    try:
        return model.model_validate(json_object())
    except ValidationError as exc:  # the models coerce wrong types, so this is a last resort
        raise ApiError(400, "The request body has fields of the wrong type") from exc


def fingerprint_text() -> str:
    """Return a canonical text of the request (method, path, body) for Idempotency-Key comparisons."""
    body = json_object()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return f"{request.method} {request.path}\n{canonical}"


__all__ = ["fingerprint_text", "is_json_mimetype", "json_object", "parse"]
