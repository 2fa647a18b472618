"""What the web pages' forms share: a CSRF token per browser, and errors keyed by field.

CSRF: each browser gets a random token in a signed, HttpOnly cookie (``<cookie name>_csrf``);
every form carries the same token in a hidden field, and a POST is accepted only when the two
match (compared with :func:`hmac.compare_digest`). A cross-site page can make a browser send the
cookie but cannot read it, so it cannot fill in the field; and because the cookie is signed, a
neighbouring subdomain that can write cookies cannot plant a token it knows either.

The signing key is ``EVENTHIVE_PAGES_SECRET``, else the app's ``SECRET_KEY``, else the
token-signing secret (``EVENTHIVE_JWT_SECRET``), always with a salt of its own so the CSRF
signature can never pass for a token signature.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from eventhive_core import ConfigurationError, EventHiveError, ValidationFailed
from eventhive_flask.auth import cookie_is_secure
from eventhive_flask.state import state_of

#: The hidden form field that carries the token.
CSRF_FIELD = "csrf_token"

#: The hidden field that names one rendered form, so submitting it twice acts once.
FORM_KEY_FIELD = "form_key"

_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

_SALT = "eventhive.pages.csrf"


class CsrfRefused(EventHiveError):
    """A form came without the token of the browser that loaded it (400)."""

    status_code = 400
    message = "This form has expired or did not come from this site. Reload the page and try again."


def signing_secret(app: Flask) -> str | bytes:
    """Return the secret the CSRF cookie is signed with.

    Raises:
        ConfigurationError: None of ``EVENTHIVE_PAGES_SECRET``, ``SECRET_KEY`` or an HS256 token
            secret is set (EdDSA setups).
    """
    pages_secret = state_of(app).flask.pages_secret
    if pages_secret is not None:
        return pages_secret.get_secret_value()
    if app.secret_key:
        return app.secret_key
    jwt_secret = state_of(app).settings.jwt_secret
    if jwt_secret is not None:
        return jwt_secret.get_secret_value()
    raise ConfigurationError(
        "The EventHive pages sign their CSRF cookie with EVENTHIVE_PAGES_SECRET or SECRET_KEY; set one (or turn "
        "the pages off with EVENTHIVE_PAGES=false)."
    )


def csrf_cookie_name() -> str:
    """Return the name of the CSRF cookie (next to the token cookie's name)."""
    return f"{state_of(current_app).flask.cookie_name}_csrf"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(signing_secret(current_app), salt=_SALT)


def _token_from_cookie() -> str | None:
    raw = request.cookies.get(csrf_cookie_name())
    if not raw:
        return None
    try:
        value = _serializer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) and value else None


def csrf_token() -> str:
    """Return this browser's CSRF token, making one (set by :func:`save_csrf_cookie`) on its first visit."""
    token = g.get("eventhive_csrf_token")
    if isinstance(token, str):
        return token
    token = _token_from_cookie()
    if token is None:
        token = secrets.token_urlsafe(32)
        g.eventhive_new_csrf_token = token
    g.eventhive_csrf_token = token
    return token


def save_csrf_cookie(response: Response) -> Response:
    """Set the CSRF cookie when this request made a new token (an ``after_request`` function)."""
    token = g.get("eventhive_new_csrf_token")
    if isinstance(token, str):
        response.set_cookie(
            csrf_cookie_name(),
            _serializer().dumps(token),
            path="/",
            secure=cookie_is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


def check_csrf_token() -> None:
    """Refuse a form whose token does not match this browser's cookie.

    Raises:
        CsrfRefused: The field or the cookie is missing, or they differ.
    """
    expected = _token_from_cookie()
    sent = request.form.get(CSRF_FIELD, "")
    if expected is None or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRefused()


@dataclass(frozen=True)
class FormErrors:
    """The core's refusal, laid out for a form: messages by field, and messages about the whole form.

    Attributes:
        fields: Field name (as the API spells it: ``email``, ``ticketId``...) → its messages.
        general: Messages that belong to no field (``Invalid credentials``...).
    """

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @classmethod
    def from_error(cls, error: EventHiveError) -> FormErrors:
        """Split an error of the core into field and general messages."""
        if isinstance(error, ValidationFailed):
            by_field: dict[str, list[str]] = {}
            for problem in error.errors:
                by_field.setdefault(problem.field, []).append(problem.message)
            return cls(fields=by_field)
        return cls(general=[error.message])

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def for_field(self, name: str) -> list[str]:
        """Return the messages of one field (empty when it is fine)."""
        return self.fields.get(name, [])

    def all_messages(self) -> list[str]:
        """Return every message, general ones first (for the summary at the top of a form)."""
        return [*self.general, *(message for messages in self.fields.values() for message in messages)]


#: No errors (a form shown for the first time).
NO_ERRORS = FormErrors()


def new_form_key() -> str:
    """Return a fresh key for one rendered form (see :func:`purchase_key`)."""
    return secrets.token_urlsafe(18)


def purchase_key(form_key: str) -> str | None:
    """Return the Idempotency-Key a Purchase form's key stands for, or None for a missing or odd key.

    The page's keys get a namespace of their own, so they never meet a key the same buyer sends
    to the JSON API.

    Examples:
        >>> purchase_key("Zk3vQ0tq8yQeY1mF2xW7aBcD")
        'page-purchase:Zk3vQ0tq8yQeY1mF2xW7aBcD'
        >>> purchase_key("") is None, purchase_key("<script>") is None
        (True, True)
    """
    return f"page-purchase:{form_key}" if _FORM_KEY.match(form_key) else None


def whole_number(text: str) -> int:
    """Read a form's whole number; anything else is 0, which the core refuses with the field's own message.

    Examples:
        >>> whole_number(" 3 "), whole_number("2.5"), whole_number(""), whole_number("9" * 40)
        (3, 0, 0, 0)
    """
    text = text.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 9:
        return 0
    return int(text)


def safe_next(target: str | None, default: str) -> str:
    r"""Return ``target`` when it is a path on this site, else ``default`` (no open redirects).

    Examples:
        >>> safe_next("/orders", "/"), safe_next("//evil.example", "/"), safe_next("https://evil.example", "/")
        ('/orders', '/', '/')
        >>> safe_next("/\\evil.example", "/")
        '/'
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(char) < 32 for char in target):
        return default
    return target


__all__ = [
    "CSRF_FIELD",
    "FORM_KEY_FIELD",
    "NO_ERRORS",
    "CsrfRefused",
    "FormErrors",
    "check_csrf_token",
    "csrf_cookie_name",
    "csrf_token",
    "new_form_key",
    "purchase_key",
    "safe_next",
    "save_csrf_cookie",
    "signing_secret",
    "whole_number",
]
