"""The patterns the core publishes (for the API's OpenAPI document) say exactly what its rules accept."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from eventhive_core.domain.ids import ID_PATTERN, is_valid_id
from eventhive_core.domain.read_models import CURSOR_PATTERN, MAX_CURSOR_LENGTH, Cursor
from eventhive_core.domain.validation import (
    MAX_TITLE_LENGTH,
    NOT_BLANK_PATTERN,
    SIGN_UP_PASSWORD_PATTERN,
    TITLE_PATTERN,
    WHITESPACE,
    parse_price,
    password_errors,
    price_text_pattern,
    title_errors,
)

#: Characters where the rules' edges are: every kind of whitespace (ECMA-262's and Python's), controls.
EDGES = "\t\n\x0b\x0c\r\x1c\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\x00\x7f\x9f@a"
texts = st.text(st.sampled_from(EDGES) | st.characters(exclude_categories=["Cs"]), max_size=30)


def test_whitespace_is_exactly_what_the_patterns_treat_as_whitespace() -> None:
    blank = [chr(c) for c in range(0x10000) if not re.search(NOT_BLANK_PATTERN, chr(c))]

    assert "".join(blank) == "".join(sorted(WHITESPACE))


@given(texts)
@example("    ")
@example("\u3000abcd\ufeff")
@example("ab\x1ccd")
@example("a" * 20 + " ")
def test_the_sign_up_password_pattern_is_the_password_rule(password: str) -> None:
    accepted = not password_errors(password, signing_up=True)

    assert accepted == bool(re.fullmatch(SIGN_UP_PASSWORD_PATTERN, password))


@given(texts)
def test_the_not_blank_pattern_is_the_sign_in_password_rule(password: str) -> None:
    accepted = not password_errors(password, signing_up=False)

    assert accepted == bool(re.search(NOT_BLANK_PATTERN, password))


@given(texts | st.text(min_size=195, max_size=205))
@example("\ufeff")
@example("Jazz\u0085night")
def test_the_title_pattern_and_lengths_are_the_title_rule(title: str) -> None:
    accepted = not title_errors(title)

    assert accepted == (1 <= len(title) <= MAX_TITLE_LENGTH and bool(re.fullmatch(TITLE_PATTERN, title)))


def _digits(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from("0000123456789"), max_size=max_size)


@st.composite
def price_texts(draw: st.DrawFn) -> str:
    """Texts close to what isFloat reads: signs, zeros, points, exponents of any length, spaces around."""
    mantissa = draw(_digits(9)) + draw(st.sampled_from(["", "."])) + draw(_digits(5))
    exponent = draw(st.sampled_from(["", "e", "E"]))
    if exponent:
        exponent += draw(st.sampled_from(["", "+", "-"])) + draw(_digits(3)) + str(draw(st.integers(0, 12)))
    pad = st.sampled_from(["", " ", "\t", "\n", "\u00a0"])
    return draw(pad) + draw(st.sampled_from(["", "+", "-"])) + mantissa + exponent + draw(pad)


@given(price_texts(), st.sampled_from([("JPY", 0), ("USD", 2), ("KWD", 3)]))
@example("1000000", ("USD", 2))
@example("1000000.001", ("KWD", 3))
@example("0.01e0", ("USD", 2))
@example("100000000e-2", ("USD", 2))
@example("0.0000000001e9", ("USD", 2))
@example("5\n", ("USD", 2))
@example("1e10", ("USD", 2))
def test_the_price_text_pattern_is_the_price_rule(text: str, currency: tuple[str, int]) -> None:
    code, places = currency
    accepted = parse_price(text, code)[0] is not None

    assert accepted == bool(re.fullmatch(price_text_pattern(places), text))


@given(st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | st.text("0123456789abcdefABCDEF-", max_size=40))
@example("0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01")
@example("0192c1a47e3b7cc29d1e3f6a2b9e8c01----")
def test_the_id_pattern_is_the_id_rule(text: str) -> None:
    assert is_valid_id(text) == bool(re.fullmatch(ID_PATTERN, text))


@given(st.datetimes(timezones=st.just(UTC)), st.uuids())
def test_every_cursor_the_server_issues_fits_the_documented_cursor(at: datetime, ident: uuid.UUID) -> None:
    text = Cursor(at, str(ident)).encode()

    assert re.fullmatch(CURSOR_PATTERN, text)
    assert len(text) <= MAX_CURSOR_LENGTH
    assert Cursor.decode(text) == Cursor(at, str(ident))
