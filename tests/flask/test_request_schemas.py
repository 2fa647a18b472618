"""The API accepts exactly the request bodies its OpenAPI document describes, at the edges of every rule.

Each body is judged twice: by the document's schema (jsonschema, reading numbers as decimals as
the server does) and by the server. A valid body must be carried out; an invalid one must be
refused with a 400 naming the field. schemathesis asks the same question at random against a
real server (tests/fuzz); these are the edges of each rule, and the ones it found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError, validators

from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import errors_of

SIGN_UP, SIGN_IN, TICKETS, ORDERS, PAYMENTS = (
    "/api/users/signup",
    "/api/users/signin",
    "/api/tickets",
    "/api/orders",
    "/api/payments",
)

# (route, body, what the document says); "{ticket}" and "{order}" stand for real ids.
EDGES: list[tuple[str, dict[str, Any], bool]] = [
    (SIGN_UP, {"email": " ann@example.com ", "password": "abcd"}, True),
    (SIGN_UP, {"email": "bob@example.com\ufeff", "password": "\u3000abcd\ufeff"}, True),
    (SIGN_UP, {"email": "cy@example.com", "password": "ab  "}, False),  # 2 characters once trimmed
    (SIGN_UP, {"email": "dee@example.com", "password": "x" * 21}, False),
    (SIGN_UP, {"email": "a\x85b@example.com", "password": "abcd"}, False),  # a control character
    (SIGN_UP, {"email": "x" * 64 + "@example.com", "password": "abcd"}, True),
    (SIGN_UP, {"email": "x" * 65 + "@example.com", "password": "abcd"}, False),
    (SIGN_IN, {"email": "ann@example.com", "password": "\u3000 "}, False),
    (TICKETS, {"title": "Jazz", "price": "25.50"}, True),
    (TICKETS, {"title": "Jazz", "price": " +2.5e1\t"}, True),  # isFloat's sign and exponent
    (TICKETS, {"title": "Jazz", "price": "5\n"}, False),  # was read as 5 (Python's `$` before a newline)
    (TICKETS, {"title": "Jazz", "price": "1_000"}, False),
    (TICKETS, {"title": "Jazz", "price": "\u0661\u0662"}, False),
    (TICKETS, {"title": "Jazz", "price": "Infinity"}, False),
    (TICKETS, {"title": "Jazz", "price": "0.0000000001e10"}, False),  # an exponent beyond 9
    (TICKETS, {"title": "Jazz", "price": "-1"}, False),
    (TICKETS, {"title": "Jazz", "price": 1_000_000}, True),
    (TICKETS, {"title": "Jazz", "price": 1_000_000.01}, False),
    (TICKETS, {"title": "Jazz", "price": 19.99}, True),
    (TICKETS, {"title": "Jazz", "price": 0.001}, False),
    (TICKETS, {"title": "Jazz", "price": 1, "capacity": 2.0}, True),  # found by schemathesis: was refused
    (TICKETS, {"title": "Jazz", "price": 1, "capacity": 1.5}, False),
    (TICKETS, {"title": "Jazz", "price": 1, "capacity": None}, True),
    (TICKETS, {"title": "x" * 200, "price": 1}, True),
    (TICKETS, {"title": "x" * 201, "price": 1}, False),
    (TICKETS, {"title": "\ufeff\u3000", "price": 1}, False),
    (TICKETS, {"title": "Jazz\x85night", "price": 1}, False),
    (TICKETS, {"title": "Jazz", "price": 1, "quantity": "ignored"}, True),
    (ORDERS, {"ticketId": "{ticket}", "quantity": 4.0}, True),  # found by schemathesis: was refused
    (ORDERS, {"ticketId": "{TICKET}"}, False),  # ids are spelled as issued, in lower case
    (ORDERS, {"ticketId": "{ticket}", "quantity": 11}, False),
    (ORDERS, {"ticketId": " {ticket}"}, False),
    (PAYMENTS, {"orderId": "{order}", "token": "\u3000"}, False),
    (PAYMENTS, {"orderId": "{order}", "token": "tok_visa"}, True),
]


def _ecma_pattern(validator: Any, pattern: str, instance: object, schema: dict[str, Any]) -> Iterator[ValidationError]:
    # As ECMA-262 reads a pattern: `$` is the end of the text, where Python's `$` also matches
    # before a final newline ("5\n" would pass).
    if isinstance(instance, str) and not re.search(re.sub(r"\$$", r"\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _integer(checker: Any, instance: object) -> bool:
    # JSON Schema's integer is any number without a fraction (2.0 too), read here as a Decimal.
    if isinstance(instance, Decimal):
        return instance == instance.to_integral_value()
    return bool(Draft202012Validator.TYPE_CHECKER.is_type(instance, "integer"))


#: Draft 2020-12 as the document means it, on JSON read with decimals (as the server reads it).
JsonSchema = validators.extend(
    Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _integer),
)


def _schema_of(document: dict[str, Any], path: str) -> Any:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return JsonSchema({"components": document["components"], **body})


@pytest.mark.parametrize(("path", "body", "valid"), EDGES, ids=[f"{p} {json.dumps(b)[:60]}" for p, b, _ in EDGES])
def test_the_server_accepts_a_body_exactly_when_the_document_does(
    api: Api, path: str, body: dict[str, Any], valid: bool
) -> None:
    document = json.loads(api.client().get("/api/openapi.json").get_data(), parse_float=Decimal)
    seller, buyer = api.user(), api.user()
    ticket = api.ticket(seller, capacity=100)
    order = api.order(buyer, ticket["id"])
    text = json.dumps(body).replace("{ticket}", ticket["id"]).replace("{TICKET}", ticket["id"].upper())
    text = text.replace("{order}", order["id"])
    client = api.client() if path in (SIGN_UP, SIGN_IN) else buyer

    assert _schema_of(document, path).is_valid(json.loads(text, parse_float=Decimal)) is valid
    response = client.post(path, data=text, content_type="application/json")

    if valid:
        assert response.status_code in (200, 201), response.get_json()
    else:
        assert response.status_code == 400
        assert all("field" in error for error in errors_of(response))
