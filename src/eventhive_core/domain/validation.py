r"""Input rules with the original's messages; each returns the FieldErrors it finds.

The service layer runs every rule of a command and raises one ValidationFailed listing them
all (like express-validator, which never stops at the first failure).

The rules that a pattern can state are also published as patterns (``*_PATTERN`` and
:func:`price_text_pattern`), written in the common ground of ECMA-262 (what JSON Schema and so
the API's OpenAPI document use) and Python's ``re``: explicit character classes instead of
``\s``, ``\d`` or ``\w``, whose meaning differs between the two (only ``[\s\S]``, any character,
reads the same everywhere). They are meant whole: a final ``$`` is the end of the text in
ECMA-262, where Python's also matches before a final newline, so Python code uses ``fullmatch``.
Tests hold each pattern to its rule.
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
MAX_EMAIL_LENGTH = 254
#: The largest exponent, either way, that a price written as text may carry (``2.5e1``, ``1E+6``).
MAX_PRICE_EXPONENT = 9

#: Whitespace as ECMA-262 defines it (WhiteSpace and LineTerminator): what JavaScript's ``trim``,
#: and so the original's validators, removed. Python's ``str.strip()`` removes a slightly
#: different set, so the rules strip exactly these.
WHITESPACE = "".join(
    ["\t\n\x0b\x0c\r \u00a0\u1680", *map(chr, range(0x2000, 0x200B)), "\u2028\u2029\u202f\u205f\u3000\ufeff"]
)
_SPACE = r"\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: Control characters (Unicode category Cc).
_CONTROL = r"\x00-\x1f\x7f-\x9f"

#: An Idempotency-Key: printable ASCII without spaces, what an HTTP header carries intact (1 to 255 of them).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]+$"

#: An email address, with whitespace around it (which is dropped): a local part of 1 to 64
#: characters that are not ``@``, whitespace or control characters, and a domain of dot-separated
#: ASCII labels. A pragmatic shape check (what validator.js's isEmail accepts in practice);
#: delivery proves the rest. At most :data:`MAX_EMAIL_LENGTH` characters in all.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^[{_SPACE}]*[^@{_SPACE}{_CONTROL}]{{1,64}}@{_LABEL}(?:\.{_LABEL})+[{_SPACE}]*$"

#: A password to sign up with: 4 to 20 characters once the whitespace around them is left out.
SIGN_UP_PASSWORD_PATTERN = (
    rf"^[{_SPACE}]*[^{_SPACE}][\s\S]{{{MIN_PASSWORD - 2},{MAX_PASSWORD - 2}}}[^{_SPACE}][{_SPACE}]*$"
)

#: Text with something besides whitespace in it: a password to sign in with, a payment token (unanchored).
NOT_BLANK_PATTERN = rf"[^{_SPACE}]"

#: A ticket title: no control characters and something besides whitespace (1 to 200 characters).
TITLE_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"

_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)

#: A price as text: what the original's isFloat read (an optional sign, ASCII digits with an
#: optional point, an optional exponent), with " " and tab around it, and an exponent of one
#: digit once any leading zeros are left out (no price needs more).
_DECIMAL_TEXT = re.compile(r"[ \t]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?0*[0-9])?[ \t]*")


def strip_space(text: str) -> str:
    r"""Return ``text`` without the :data:`WHITESPACE` around it.

    Examples:
        >>> strip_space("\u3000 ann@example.com\ufeff\n")
        'ann@example.com'
    """
    return text.strip(WHITESPACE)


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
    """Check an email address (:data:`EMAIL_PATTERN`, at most :data:`MAX_EMAIL_LENGTH` characters).

    Examples:
        >>> email_errors(" ann@example.com ")
        []
        >>> email_errors("invalidemail")
        [FieldError(message='Email must be valid', field='email')]
    """
    if (
        not isinstance(email, str)
        or len(email) > MAX_EMAIL_LENGTH
        or not is_unicode_text(email)
        or not _EMAIL.fullmatch(email)
    ):
        return [FieldError("Email must be valid", "email")]
    return []


def password_errors(password: object, *, signing_up: bool) -> list[FieldError]:
    """Check a password: 4 to 20 characters to sign up, not blank to sign in.

    Like the original, the length is counted without the whitespace around the password (what
    JavaScript's ``trim`` removed, :data:`WHITESPACE`). Unlike the original, the password itself
    is never trimmed: what the user typed is what is hashed.

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
        if not isinstance(password, str) or not MIN_PASSWORD <= len(strip_space(password)) <= MAX_PASSWORD:
            return [FieldError("Password must be between 4 and 20 characters", "password")]
        return []
    if not isinstance(password, str) or not strip_space(password):
        return [FieldError("You must supply a password", "password")]
    return []


def title_errors(title: object) -> list[FieldError]:
    r"""Check a ticket title: not blank, at most 200 characters, no control characters (:data:`TITLE_PATTERN`).

    Examples:
        >>> title_errors("")[0].message
        'Title is required'
        >>> title_errors("a" * 201)[0].message
        'Title must be at most 200 characters'
        >>> title_errors("bad\x00title")[0].message
        'Title must not contain control characters'
    """
    if not isinstance(title, str) or not strip_space(title):
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

    Numbers and numeric text are accepted (the original's client sends a string): text as the
    original's isFloat read it, with an exponent of one digit (:func:`price_text_pattern` says
    exactly which texts pass). Booleans, non-finite values, zero or less, more than 1,000,000
    and more decimals than the currency allows are not.

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
    if isinstance(price, str) and not _DECIMAL_TEXT.fullmatch(price):
        # What the original's isFloat took: a sign, ASCII digits, a point, an exponent. Not
        # underscores, other scripts' digits or "Infinity", which Python's Decimal would take.
        return None, [FieldError("Price must be greater than 0", "price")]
    try:
        value = Decimal(str(price).strip(" \t")) if not isinstance(price, Decimal) else price
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


def price_text_pattern(places: int) -> str:
    r"""Return the pattern of exactly the price texts :func:`parse_price` accepts, for ``places`` decimals.

    JSON Schema cannot compare the number a text spells with bounds, so the bounds are spelled
    out: for each exponent ``e`` from -9 to 9, the significant digits of the text must sit where
    ``e`` moves them between ``10**-places`` and ``MAX_PRICE`` (an exponent of any length would
    make this impossible for a pattern, hence :data:`MAX_PRICE_EXPONENT`). A minus sign never
    passes: no price is 0 or less.

    Examples:
        >>> pattern = re.compile(price_text_pattern(2))
        >>> [bool(pattern.fullmatch(t)) for t in ["25.50", " +1e6", "0.5e-1", "1000000.01", "-1", "1e-3"]]
        [True, True, True, False, False, False]
    """
    top = len(str(int(MAX_PRICE))) - 1
    assert Decimal(10) ** top == MAX_PRICE, "the pattern spells MAX_PRICE as a power of ten"
    spelled = [
        _significant_digits(lowest=-places - e, highest=top - 1 - e, exactly=top - e) + _exponent(e)
        for e in range(-MAX_PRICE_EXPONENT, MAX_PRICE_EXPONENT + 1)
    ]
    return rf"^[ \t]*\+?(?:{'|'.join(spelled)})[ \t]*$"


def _significant_digits(lowest: int, highest: int, exactly: int) -> str:
    """Pattern of the mantissas that may go with one exponent.

    Mantissas are written ``12``, ``1.5``, ``.5`` or ``5.``; these have their non-zero digits (at
    least one) at powers of ten from ``lowest`` to ``highest``, or equal exactly ``10**exactly``.
    """
    forms = []
    if highest >= 0:
        # The first non-zero digit is in the integer part.
        if lowest > 0:
            forms.append(rf"0*[1-9]{_digits(highest - lowest)}{_zeros(lowest)}(?:\.0*)?")
        else:
            fraction = rf"\.{_digits(-lowest)}0*" if lowest < 0 else r"\.0*"
            forms.append(rf"0*[1-9]{_digits(highest)}(?:{fraction})?")
    if lowest < 0:
        # The integer part is zero (or absent): the first non-zero digit is in the fraction.
        leading = max(0, -highest - 1)
        width = min(highest, -1) - lowest + 1
        forms.append(rf"0*\.{_zeros(leading)}{_digits(width - 1)}[1-9]0*")
    if exactly >= 0:
        forms.append(rf"0*1{_zeros(exactly)}(?:\.0*)?")
    else:
        forms.append(rf"0*\.{_zeros(-exactly - 1)}10*")
    return "(?:" + "|".join(forms) + ")"


def _digits(most: int) -> str:
    return f"[0-9]{{0,{most}}}" if most > 0 else ""


def _zeros(count: int) -> str:
    return "0" * count if count < 3 else f"0{{{count}}}"


def _exponent(e: int) -> str:
    if e == 0:
        return "(?:[eE][+-]?0+)?"
    return rf"[eE]\+?0*{e}" if e > 0 else rf"[eE]-0*{-e}"


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
