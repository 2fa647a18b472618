"""Draining an unread request body, so an early answer leaves the keep-alive connection usable.

Its own module because the error handlers (``errors``) and the body parsing (``bodies``, which
raises those errors) both need it.
"""

from __future__ import annotations

from flask import request

#: The most of an unread request body that is read and thrown away so the connection stays usable.
DRAIN_LIMIT = 8 * 1024 * 1024


def drain_body() -> None:
    """Read and discard what is left of the request body (up to :data:`DRAIN_LIMIT`).

    An answer given before the body was read (401 before parsing, 413 for a declared length)
    would otherwise leave the rest of the body on a keep-alive connection: gunicorn then closes
    it after saying ``Connection: keep-alive``, and a client reusing the connection fails on its
    next request. A WSGI application cannot make gunicorn say ``Connection: close`` (it drops
    hop-by-hop headers), so the body is drained instead, within a bound.
    """
    if request.content_length == 0 or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    drained = 0
    try:
        while drained < DRAIN_LIMIT:
            chunk = stream.read(min(65536, DRAIN_LIMIT - drained))
            if not chunk:
                return
            drained += len(chunk)
    except (OSError, ValueError):
        return  # the client went away: nothing to keep alive


__all__ = ["DRAIN_LIMIT", "drain_body"]
