"""The request id: one short text that follows a purchase from its HTTP request into every log line.

The web process binds it for each request (an incoming ``X-Request-ID`` it can trust, else a new
one); events recorded while it is bound carry it in their envelope, and whoever handles those
events (the relay, a worker) binds it again, so the lines and events they produce carry it too.
It lives in a context variable: each thread and each asyncio task sees its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

#: The HTTP header that carries it, in and out.
REQUEST_ID_HEADER = "X-Request-ID"
#: The longest request id taken from outside; longer ones are replaced, never cut.
MAX_REQUEST_ID_LENGTH = 128
#: What an incoming id may hold: letters, digits and ``-_.:/+=@``, so it is safe in a header, a
#: log line and a shell's ``grep`` alike (no spaces, quotes, control characters or newlines).
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.:/+=@]*$")

_request_id: ContextVar[str | None] = ContextVar("eventhive_request_id", default=None)


def new_request_id() -> str:
    """Return a fresh request id: 32 hexadecimal digits (a random UUID without dashes).

    Examples:
        >>> len(new_request_id()), new_request_id() != new_request_id()
        (32, True)
    """
    return uuid.uuid4().hex


def sanitize_request_id(candidate: str | None) -> str | None:
    """Return ``candidate`` if it is safe to log and send back as a request id, else None.

    A caller's id is honoured only when it is short and made of safe characters; anything else
    (too long, spaces, quotes, newlines, non-ASCII) is dropped rather than cleaned, so that junk
    never reaches a log line or a response header.

    Examples:
        >>> sanitize_request_id("checkout-7f3a:retry/2")
        'checkout-7f3a:retry/2'
        >>> sanitize_request_id("bad id; rm") is None, sanitize_request_id("x" * 129) is None
        (True, True)
        >>> sanitize_request_id("") is None, sanitize_request_id(None) is None
        (True, True)
    """
    if not candidate or len(candidate) > MAX_REQUEST_ID_LENGTH:
        return None
    return candidate if REQUEST_ID_PATTERN.fullmatch(candidate) else None


def current_request_id() -> str | None:
    """Return the request id bound in this context, or None outside any request or event.

    Examples:
        >>> with request_id_bound("abc123"):
        ...     current_request_id()
        'abc123'
        >>> current_request_id() is None
        True
    """
    return _request_id.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Bind ``request_id`` (None: none) in this context; pass the token to :func:`reset_request_id`.

    For code whose start and end are two callbacks (a web framework's before and after request
    hooks); elsewhere :func:`request_id_bound` is simpler.
    """
    return _request_id.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    """Put back the request id that was bound before :func:`bind_request_id` returned ``token``."""
    _request_id.reset(token)


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    """Bind ``request_id`` while the block runs (None: none), then put back the previous one.

    Binding None on purpose matters too: an event without an id must not inherit the id of
    whatever the thread handled before.
    """
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


__all__ = [
    "MAX_REQUEST_ID_LENGTH",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_PATTERN",
    "bind_request_id",
    "current_request_id",
    "new_request_id",
    "request_id_bound",
    "reset_request_id",
    "sanitize_request_id",
]
