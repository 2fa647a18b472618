"""JSON responses from the API models, and page links for list endpoints.

Lists stay plain JSON arrays, as the original's clients expect; the next page, when there is
one, is announced in a ``Link: <...>; rel="next"`` header (RFC 8288). Every JSON body ends with a
newline, as Flask's ``jsonify`` ends its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from flask import Response, request

from eventhive_core import FieldError, ValidationFailed
from eventhive_core.domain.read_models import MAX_PAGE_SIZE, Cursor
from eventhive_flask.schemas import CamelModel


def json_text_response(text: str, status: int = 200) -> Response:
    r"""Return JSON text as an ``application/json`` response whose body ends with a newline.

    Every JSON answer of the API goes through here, so that curl's output ends its line instead of
    running into the shell prompt. Text that already ends with a newline (an answer stored with one
    and replayed) is sent unchanged.

    Examples:
        >>> json_text_response('{"status":"ok"}').get_data()
        b'{"status":"ok"}\n'
    """
    body = text if text.endswith("\n") else text + "\n"
    return Response(body, status=status, mimetype="application/json")


def json_response(model: CamelModel, status: int = 200) -> Response:
    """Return one model as camelCase JSON."""
    return json_text_response(model.model_dump_json(by_alias=True), status)


def json_list(models: Iterable[CamelModel], next_cursor: str | None = None) -> Response:
    """Return models as a JSON array, with a ``Link`` header to the next page when there is one."""
    body = "[" + ",".join(model.model_dump_json(by_alias=True) for model in models) + "]"
    response = json_text_response(body)
    if next_cursor is not None:
        query = {key: value for key, value in request.args.items() if key != "cursor"}
        query["cursor"] = next_cursor
        response.headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return response


def page_arguments() -> tuple[int | None, str | None]:
    """Return ``limit`` and ``cursor`` from the query string.

    Raises:
        ValidationFailed: ``limit`` is not a whole number from 1 to 100, or ``cursor`` is absurd.
    """
    problems: list[FieldError] = []
    limit: int | None = None
    raw_limit = request.args.get("limit")
    if raw_limit is not None:
        if len(raw_limit) <= 3 and raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            limit = int(raw_limit)
        else:
            problems.append(FieldError(f"Limit must be a whole number between 1 and {MAX_PAGE_SIZE}", "limit"))
    cursor = request.args.get("cursor") or None
    if cursor is not None and Cursor.decode(cursor) is None:
        # Not one this server issued: a 400 naming the field, never a page of something else.
        problems.append(FieldError("Cursor is not valid; follow the Link header", "cursor"))
    if problems:
        raise ValidationFailed(problems)
    return limit, cursor


def empty_response(status: int = 204) -> Response:
    """Return a response without a body."""
    return Response(status=status)


__all__ = ["empty_response", "json_list", "json_response", "json_text_response", "page_arguments"]
