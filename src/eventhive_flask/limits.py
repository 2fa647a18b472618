"""Rate limits on sign-in, sign-up and order placement, with Flask-Limiter.

Guessing passwords and creating accounts are limited per client address and per account (the
email asked for); placing orders is limited per signed-in user. The API's routes and the pages'
forms share each limit, so a guesser gains nothing by switching between them. A refused request
answers **429** with ``Retry-After``: in the original's error shape on the API, as a page on the
pages.

The counters live in ``EVENTHIVE_REDIS_URL`` when it is set, shared by every process; otherwise
in each process's memory, so with N worker processes a client may get up to N times a limit.
The client address is what the trusted proxies say it is (``EVENTHIVE_PROXY_HOPS``), never a
forwarded header the app was not told to trust.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, render_template, request

from eventhive_core import ConfigurationError
from eventhive_core.domain.user import normalize_email
from eventhive_flask.config import FlaskSettings
from eventhive_flask.errors import error_body, json_error

if TYPE_CHECKING:
    from flask_limiter import Limiter, RequestLimit

#: The message of a refused request (the original had none: it never limited anything).
TOO_MANY = "Too many attempts; try again in {seconds} seconds"


@dataclass(frozen=True, slots=True)
class LimitedRoute:
    """One endpoint and the limits it shares with others.

    Attributes:
        endpoint: The Flask endpoint (``eventhive_api.signin``).
        scope: The bucket it counts in; endpoints with one scope share their counters.
        per_account: Whether it also counts per email (sign-in and sign-up).
        per_user: Whether it counts per signed-in user instead of per address (orders).
    """

    endpoint: str
    scope: str
    per_account: bool = False
    per_user: bool = False


#: Every limited route. The pages' forms count with the API routes that do the same thing.
ROUTES: tuple[LimitedRoute, ...] = (
    LimitedRoute("eventhive_api.signin", "signin", per_account=True),
    LimitedRoute("eventhive_api.tokens", "signin", per_account=True),
    LimitedRoute("eventhive_pages.signin", "signin", per_account=True),
    LimitedRoute("eventhive_api.signup", "signup", per_account=True),
    LimitedRoute("eventhive_pages.signup", "signup", per_account=True),
    LimitedRoute("eventhive_api.place_order", "orders", per_user=True),
    LimitedRoute("eventhive_pages.ticket", "orders", per_user=True),
)


def client_address() -> str:
    """Return the client's address, as the trusted proxies (and nothing else) report it."""
    return request.remote_addr or "unknown"


def account_of_request() -> str:
    """Return the normalised email a sign-in or sign-up asks for, or "" (no per-account count) when there is none."""
    email: object = None
    if request.is_json:
        from eventhive_flask.bodies import json_object

        email = json_object().get("email")
    elif request.form:
        email = request.form.get("email")
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        return ""
    try:
        email.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return normalize_email(email)


def user_of_request() -> str:
    """Return the signed-in user's id, or the client's address for an anonymous request."""
    from eventhive_flask.auth import current_identity

    identity = current_identity()
    return f"user:{identity.user_id}" if identity is not None else f"address:{client_address()}"


def _retry_after(limit: RequestLimit) -> int:
    return max(1, math.ceil(limit.reset_at - time.time()))


def refused(limit: RequestLimit) -> Response:
    """Answer a request over its limit: 429 with ``Retry-After``, as JSON on the API and as a page on the pages."""
    seconds = _retry_after(limit)
    message = TOO_MANY.format(seconds=seconds)
    headers = {"Retry-After": str(seconds)}
    if request.blueprint == "eventhive_pages":
        page = render_template("eventhive/error.html", message=message, status=429)
        response = Response(page, status=429, mimetype="text/html")
        response.headers.update(headers)
        return response
    return json_error(429, error_body(message), headers)


def _limits_of(route: LimitedRoute, settings: FlaskSettings) -> list[tuple[str, Callable[[], str], str]]:
    """Return ``(limit text, key function, scope)`` of each limit counted on ``route``."""
    if route.per_user:
        return [(settings.rate_limit_orders, user_of_request, route.scope)]
    per_address = settings.rate_limit_signin if route.scope == "signin" else settings.rate_limit_signup
    per_account = settings.rate_limit_signin_account if route.scope == "signin" else settings.rate_limit_signup_account
    return [
        (per_address, client_address, f"{route.scope}:address"),
        (per_account, account_of_request, f"{route.scope}:account"),
    ]


def init_limits(app: Flask, settings: FlaskSettings) -> Limiter | None:
    """Put the rate limits on ``app``'s limited routes (after they are registered); None when they are off.

    Raises:
        ConfigurationError: A limit does not parse, or ``EVENTHIVE_REDIS_URL`` needs a client that is
            not installed.
    """
    if not settings.rate_limits:
        return None
    try:
        from flask_limiter import Limiter
    except ModuleNotFoundError as exc:  # pragma: no cover - the flask extra brings it
        raise ConfigurationError('Rate limits need Flask-Limiter: pip install "eventhive-tickets[flask]"') from exc
    if settings.redis_url:
        try:
            import redis  # noqa: F401
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                'EVENTHIVE_REDIS_URL needs the redis client: pip install "eventhive-tickets[server]"'
            ) from exc
    from eventhive_flask.limit_storage import SCHEME  # registers the scheme with limits

    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=settings.redis_url or f"{SCHEME}://",
        key_prefix="eventhive",
        strategy="moving-window",
        on_breach=refused,
        # Counting is part of the answer: a broken counter store must not wave requests through.
        swallow_errors=False,
        headers_enabled=False,
    )
    for route in ROUTES:
        view: Any = app.view_functions.get(route.endpoint)
        if view is None:  # the pages are off
            continue
        # Decorating the app's own entry (not the module's function) keeps two apps' limits apart.
        for text, key, scope in _limits_of(route, settings):
            view = limiter.shared_limit(text, scope=scope, key_func=key, methods=["POST"])(view)
        app.view_functions[route.endpoint] = view
    return limiter


def describe(settings: FlaskSettings) -> str:
    """Return one line saying what is limited, for ``eventhive serve``'s start-up notes."""
    if not settings.rate_limits:
        return "rate limits: off (EVENTHIVE_RATE_LIMITS=false)"
    where = "shared in Redis" if settings.redis_url else "counted per worker process"
    return (
        f"rate limits: sign-in {settings.rate_limit_signin} per address and {settings.rate_limit_signin_account} "
        f"per account; sign-up {settings.rate_limit_signup} per address; orders {settings.rate_limit_orders} "
        f"per user ({where})"
    )


__all__ = [
    "ROUTES",
    "TOO_MANY",
    "LimitedRoute",
    "account_of_request",
    "client_address",
    "describe",
    "init_limits",
    "refused",
    "user_of_request",
]
