"""Input rules with the original's messages; each returns the FieldErrors it finds.

The service layer runs every rule of a command and raises one ValidationFailed listing them
all (like express-validator, which never stops at the first failure).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from eventhive_core.domain.errors import FieldError
from eventhive_core.domain.money import Money, TooManyDecimals, currency_exponent

MAX_TITLE_LENGTH = 200
MAX_PRICE = Decimal(1_000_000)
MIN_PASSWORD, MAX_PASSWORD = 4, 20
MAX_CAPACITY = 1_000_000
MAX_IDEMPOTENCY_KEY = 255

#: An Idempotency-Key: printable ASCII without spaces, what an HTTP header carries intact.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]+")

#: A price as text: an optional sign, ASCII digits with an optional point, an optional exponent.
_DECIMAL_TEXT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")

# Pragmatic shape check (what validator.js's isEmail accepts in practice); delivery proves the rest.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def is_unicode_text(text: str) -> bool:
    r"""Tell whether ``text`` is real Unicode text: JSON may carry lone UTF-16 surrogates, UTF-8 cannot.

    Examples:
        >>> is_unicode_text("Jazz night"), is_unicode_text("a\ud800b")
        (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def email_errors(email: object) -> list[FieldError]:
    """Check an email address.

    Examples:
        >>> email_errors("ann@example.com")
        []
        >>> email_errors("invalidemail")
        [FieldError(message='Email must be valid', field='email')]
    """
    if not isinstance(email, str) or len(email) > 254 or not is_unicode_text(email) or not _EMAIL.match(email.strip()):
        return [FieldError("Email must be valid", "email")]
    return []


def password_errors(password: object, *, signing_up: bool) -> list[FieldError]:
    """Check a password: 4 to 20 characters to sign up, not empty to sign in.

    Unlike the original, the password is never trimmed: what the user typed is what is hashed.

    Examples:
        >>> password_errors("p", signing_up=True)[0].message
        'Password must be between 4 and 20 characters'
        >>> password_errors("", signing_up=False)[0].message
        'You must supply a password'
    """
    if isinstance(password, str) and not is_unicode_text(password):
        # Refused before any hashing: scrypt would fail on it after the expensive part.
        return [FieldError("Password must be valid text", "password")]
    if signing_up:
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password.strip()) <= MAX_PASSWORD:
            return [FieldError("Password must be between 4 and 20 characters", "password")]
        return []
    if not isinstance(password, str) or not password.strip():
        return [FieldError("You must supply a password", "password")]
    return []


def title_errors(title: object) -> list[FieldError]:
    r"""Check a ticket title: required, at most 200 characters, no control characters.

    Examples:
        >>> title_errors("")[0].message
        'Title is required'
        >>> title_errors("a" * 201)[0].message
        'Title must be at most 200 characters'
        >>> title_errors("bad\x00title")[0].message
        'Title must not contain control characters'
    """
    if not isinstance(title, str) or not title.strip():
        return [FieldError("Title is required", "title")]
    if len(title) > MAX_TITLE_LENGTH:
        return [FieldError(f"Title must be at most {MAX_TITLE_LENGTH} characters", "title")]
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        return [FieldError("Title must not contain control characters", "title")]
    if not is_unicode_text(title):
        return [FieldError("Title must be valid text", "title")]
    return []


def parse_price(price: object, currency: str) -> tuple[Money | None, list[FieldError]]:
    """Parse a decimal price into Money, or report why it cannot be.

    Numbers and numeric strings are accepted (the original's client sends a string); booleans,
    non-finite values, zero or less, more than 1,000,000 and more decimals than the currency
    allows are not.

    Examples:
        >>> parse_price("10.50", "USD")
        (Money(minor=1050, currency='USD'), [])
        >>> parse_price(-10, "USD")[1][0].message
        'Price must be greater than 0'
        >>> parse_price("1.001", "USD")[1][0].message
        'Price must have at most 2 decimal places'
    """
    if isinstance(price, bool) or not isinstance(price, int | float | str | Decimal):
        return None, [FieldError("Price must be greater than 0", "price")]
    if isinstance(price, str) and not _DECIMAL_TEXT.match(price.strip(" \t")):
        # What the original's isFloat took: a sign, ASCII digits, a point, an exponent. Not
        # underscores, other scripts' digits or "Infinity", which Python's Decimal would take.
        return None, [FieldError("Price must be greater than 0", "price")]
    try:
        value = Decimal(str(price).strip()) if not isinstance(price, Decimal) else price
    except (InvalidOperation, ValueError):
        return None, [FieldError("Price must be greater than 0", "price")]
    if not value.is_finite() or value <= 0:
        return None, [FieldError("Price must be greater than 0", "price")]
    if value > MAX_PRICE:
        return None, [FieldError(f"Price must be at most {MAX_PRICE:,}", "price")]
    try:
        return Money.from_decimal(value, currency), []
    except TooManyDecimals:
        places = currency_exponent(currency)
        return None, [FieldError(f"Price must have at most {places} decimal places", "price")]
    except ValueError:
        return None, [FieldError(f"Price must be at most {MAX_PRICE:,}", "price")]


def quantity_errors(quantity: object, maximum: int, field: str = "quantity") -> list[FieldError]:
    """Check a quantity of units: a whole number from 1 to ``maximum``.

    Examples:
        >>> quantity_errors(0, 10)[0].message
        'Quantity must be a whole number between 1 and 10'
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= maximum:
        return [FieldError(f"{field.capitalize()} must be a whole number between 1 and {maximum}", field)]
    return []


def idempotency_key_errors(key: object) -> list[FieldError]:
    """Check an Idempotency-Key: 1 to 255 printable ASCII characters, no spaces.

    The field is named as clients send it, in the ``Idempotency-Key`` header.

    Examples:
        >>> idempotency_key_errors("order-7f3a")
        []
        >>> idempotency_key_errors("with space")[0].field
        'Idempotency-Key'
    """
    if not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        message = f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        return [FieldError(message, "Idempotency-Key")]
    return []
