"""Who is calling: a JWT from the cookie or an ``Authorization: Bearer`` header; CSRF rules for the cookie.

- The cookie (``EVENTHIVE_COOKIE_NAME``, default ``eventhive``) holds the bare token and is
  HttpOnly, SameSite=Lax and Secure unless ``EVENTHIVE_COOKIE_SECURE`` is off.
- Non-browser clients send ``Authorization: Bearer <token>`` (from ``POST /api/users/tokens``);
  a Bearer header wins over the cookie, and such requests need no CSRF check (a cross-site page
  cannot set that header).
- CSRF: an unsafe request that would be authenticated by the cookie, or that would set it
  (sign-up, sign-in), must be JSON when it has a body, and is refused when ``Origin`` names
  another origin or ``Sec-Fetch-Site`` says ``cross-site``. An HTML form cannot send JSON, and
  browsers send those headers, so a cross-site page cannot act with the user's cookie.
- Any bad token (expired, tampered, unsigned, wrong key, revoked, banned user) is treated as
  no token: 401 on protected routes, ``{"currentUser": null}`` on ``currentuser``.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, g, request

from eventhive_core import Identity, NotAuthorized
from eventhive_flask.bodies import is_json_mimetype
from eventhive_flask.errors import ApiError
from eventhive_flask.state import current_state

#: Methods that change nothing and need no CSRF check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: Endpoints that set the cookie; refusing cross-site calls to them prevents login CSRF.
COOKIE_SETTING_ENDPOINTS = frozenset({"eventhive_api.signup", "eventhive_api.signin"})

_ANONYMOUS = object()


def bearer_token() -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def cookie_token() -> str | None:
    """Return the token held in our cookie, or None."""
    return request.cookies.get(current_state().flask.cookie_name) or None


def request_token() -> str | None:
    """Return the token this request authenticates with (Bearer first, then the cookie)."""
    return bearer_token() or cookie_token()


def current_identity() -> Identity | None:
    """Return who is calling, or None when anonymous (any bad token counts as none); cached per request."""
    cached = g.get("eventhive_identity", None)
    if cached is _ANONYMOUS:
        return None
    if isinstance(cached, Identity):
        return cached
    state = current_state()
    found: object = state.hive.plugins.hook.eventhive_flask_identity(request=request, hive=state.hive)
    identity = found if isinstance(found, Identity) else None
    if identity is None:
        token = request_token()
        identity = None
        if token is not None:
            try:
                identity = state.hive.authenticate(token)
            except NotAuthorized:
                identity = None
    g.eventhive_identity = identity if identity is not None else _ANONYMOUS
    return identity


def require_identity() -> Identity:
    """Return who is calling, or raise NotAuthorized (401 "Not authorized")."""
    identity = current_identity()
    if identity is None:
        raise NotAuthorized()
    return identity


def _same_origin(origin: str) -> bool:
    own = request.host_url.rstrip("/").lower()
    origin = origin.rstrip("/").lower()
    return origin == own or origin in current_state().flask.trusted_origins


def check_csrf() -> None:
    """Refuse a cross-site or non-JSON unsafe request that relies on the cookie (403).

    Raises:
        ApiError: 403 with a message saying what to change.
    """
    if request.method in SAFE_METHODS or bearer_token() is not None:
        return
    if cookie_token() is None and request.endpoint not in COOKIE_SETTING_ENDPOINTS:
        return
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise ApiError(403, "Cross-site request refused")
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin):
        raise ApiError(403, "Cross-site request refused")
    has_body = bool(request.content_length) or request.method == "POST"
    if has_body and not is_json_mimetype(request.mimetype):
        raise ApiError(403, "Requests signed in with the cookie must send Content-Type: application/json")


def cookie_is_secure() -> bool:
    """Tell whether our cookies get ``Secure``: when configured so, or when the request came over HTTPS.

    HTTPS as the app sees it: directly, or as trusted proxies report it (``EVENTHIVE_PROXY_HOPS``),
    so ``eventhive serve`` on loopback behind a TLS proxy still sets Secure cookies.
    """
    return current_state().flask.cookie_secure or request.is_secure


def set_token_cookie(response: Response, token: str, expires_at: datetime) -> None:
    """Put the bare token in our cookie: HttpOnly, SameSite=Lax, Secure per the settings."""
    settings = current_state().flask
    response.set_cookie(
        settings.cookie_name,
        token,
        expires=expires_at,
        path="/",
        secure=cookie_is_secure(),
        httponly=True,
        samesite="Lax",
    )


def clear_token_cookie(response: Response) -> None:
    """Delete our cookie."""
    settings = current_state().flask
    response.delete_cookie(settings.cookie_name, path="/", secure=cookie_is_secure(), httponly=True, samesite="Lax")


__all__ = [
    "COOKIE_SETTING_ENDPOINTS",
    "SAFE_METHODS",
    "bearer_token",
    "check_csrf",
    "clear_token_cookie",
    "cookie_is_secure",
    "cookie_token",
    "current_identity",
    "request_token",
    "require_identity",
    "set_token_cookie",
]
