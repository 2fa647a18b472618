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
from werkzeug.exceptions import RequestEntityTooLarge

from eventhive_core import FieldError, ValidationFailed
from eventhive_core.domain.validation import is_unicode_text
from eventhive_flask.draining import DRAIN_LIMIT, drain_body
from eventhive_flask.errors import ApiError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def read_body() -> bytes:
    """Return the request body, or refuse it with 413 when it is over the limit however it was sent.

    A ``Content-Length`` over the limit is refused by Werkzeug before anything is read. A chunked
    body has no length: Werkzeug stops reading at the limit and says nothing, which would parse
    the first part of a longer body. So when a chunked body fills the limit, one more byte is
    asked of the server's stream; if there is one, the body is too large.

    Raises:
        RequestEntityTooLarge: The body is over ``request.max_content_length``.
    """
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(raw) >= limit:
        stream = request.environ.get("wsgi.input")
        if stream is not None and stream.read(1):
            raise RequestEntityTooLarge()
    return raw


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
    raw = read_body()
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
        _refuse_lone_surrogates(parsed)
        body = parsed
    g.eventhive_body = body
    return dict(body)


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return not is_unicode_text(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _refuse_lone_surrogates(body: dict[str, object]) -> None:
    r"""Refuse text that JSON allows but Unicode does not (``"\ud800"``), naming each field, before any work.

    Raises:
        ValidationFailed: One entry per top-level field that carries such text.
    """
    bad = [key for key, value in body.items() if _has_lone_surrogate(key) or _has_lone_surrogate(value)]
    if bad:
        raise ValidationFailed(
            FieldError("Must be valid Unicode text (no lone surrogates)", key if is_unicode_text(key) else "")
            for key in bad
        )


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


__all__ = ["DRAIN_LIMIT", "drain_body", "fingerprint_text", "is_json_mimetype", "json_object", "parse", "read_body"]
