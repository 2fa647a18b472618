"""Bad input on every route: never a 5xx, always the original's error shape, and nothing changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from eventhive_flask.testing import ApiHarness as Api
from eventhive_flask.testing import errors_of

HUGE = 70_000  # over the default EVENTHIVE_MAX_CONTENT_LENGTH of 65536


@dataclass
class World:
    api: Api
    seller: FlaskClient
    buyer: FlaskClient
    ticket: dict[str, Any]
    order: dict[str, Any]

    def snapshot(self) -> tuple[object, ...]:
        with self.api.app.test_request_context():
            hive = self.api.hive
            tickets = [
                (t.id, t.title, t.price, t.capacity, t.version)
                for t in hive.queries.tickets_owned_by(self.seller.user_id).items
            ]  # type: ignore[attr-defined]
            orders = [(o.id, o.status, o.version) for o in hive.queries.orders_for_user(self.buyer.user_id).items]  # type: ignore[attr-defined]
        return tickets, orders, len(self.api.gateway.charges), self.api.pending_events()  # type: ignore[attr-defined]


@pytest.fixture
def world(api: Api) -> World:
    seller, buyer = api.user("seller@test.com"), api.user("buyer@test.com")
    ticket = api.ticket(seller, title="free")
    held = api.ticket(seller, title="held")
    order = api.order(buyer, held["id"])
    api.published()
    return World(api, seller, buyer, ticket, order)


# Raw bodies that are not a usable JSON object, sent to every route that takes a body.
RAW_BODIES: list[tuple[str, bytes, str, int]] = [
    ("malformed JSON", b'{"title": ', "application/json", 400),
    ("an array", b"[]", "application/json", 400),
    ("a string", b'"text"', "application/json", 400),
    ("a number", b"42", "application/json", 400),
    ("null", b"null", "application/json", 400),
    ("NaN", b'{"title": "t", "price": NaN, "ticketId": NaN}', "application/json", 400),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000, "application/json", 400),
    ("invalid UTF-8", b'{"title": "\xff\xfe"}', "application/json", 400),
    ("an integer of 5000 digits", b'{"price": ' + b"9" * 5000 + b"}", "application/json", 400),
    ("a huge body", b'{"title": "' + b"x" * HUGE + b'"}', "application/json", 413),
    ("a form with the cookie", b"title=x&price=1", "application/x-www-form-urlencoded", 403),
    # JSON allows a lone UTF-16 surrogate in a string; Unicode (and so the database) does not.
    (
        "a lone surrogate in every field",
        rb'{"title": "a\ud800b", "price": 1, "email": "a\udfff@x.co", '
        rb'"password": "p\ud800ssword", "ticketId": "\ud800", "orderId": "\ud800", "token": "tok_\ud800"}',
        "application/json",
        400,
    ),
    ("a lone surrogate in a key", rb'{"\ud800": 1}', "application/json", 400),
]

BODY_ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/api/users/signup", "anonymous"),
    ("POST", "/api/users/signin", "anonymous"),
    ("POST", "/api/users/tokens", "anonymous"),
    ("POST", "/api/tickets", "seller"),
    ("PUT", "/api/tickets/{ticket}", "seller"),
    ("POST", "/api/orders", "buyer"),
    ("POST", "/api/payments", "buyer"),
]

# (method, path, who, JSON body, expected status)
FIELD_CASES: list[tuple[str, str, str, dict[str, Any] | None, int]] = []
for price in ["abc", -1, 0, "0", 1e300, "1e999", 1_000_000.01, 1.001, "Infinity", "NaN", True, None, [], {"a": 1}]:
    FIELD_CASES.append(("POST", "/api/tickets", "seller", {"title": "t", "price": price}, 400))
    FIELD_CASES.append(("PUT", "/api/tickets/{ticket}", "seller", {"title": "t", "price": price}, 400))
for price in ["0.0099999999999999999999999999999", "19.9900000000000000000000000001", "1e-30", "1_000", "\u0661\u0662"]:
    # More decimals than the currency has, however long; and digits the original's isFloat refused.
    FIELD_CASES.append(("POST", "/api/tickets", "seller", {"title": "t", "price": price}, 400))
    FIELD_CASES.append(("PUT", "/api/tickets/{ticket}", "seller", {"title": "t", "price": price}, 400))
for title in ["", "   ", "a" * 201, "bad\x00title", "bell\u0007", 5, None, ["t"], "a\ud800b", "\udfff"]:
    FIELD_CASES.append(("POST", "/api/tickets", "seller", {"title": title, "price": 1}, 400))
    FIELD_CASES.append(("PUT", "/api/tickets/{ticket}", "seller", {"title": title, "price": 1}, 400))
for capacity in [0, -1, 1.5, "2", 10**7, True]:
    FIELD_CASES.append(("POST", "/api/tickets", "seller", {"title": "t", "price": 1, "capacity": capacity}, 400))
for ticket_id in ["", "123", 5, None, [], "x" * 1000, "{ticket}'; DROP TABLE tickets;--"]:
    FIELD_CASES.append(("POST", "/api/orders", "buyer", {"ticketId": ticket_id}, 400))
for quantity in [0, -1, 11, 1.5, "2", True, 10**30]:
    FIELD_CASES.append(("POST", "/api/orders", "buyer", {"ticketId": "{ticket}", "quantity": quantity}, 400))
for order_id, status in [("", 400), ("123", 404), (5, 400), (None, 400), ("x" * 1000, 404)]:
    FIELD_CASES.append(("POST", "/api/payments", "buyer", {"orderId": order_id, "token": "tok_visa"}, status))
for token in ["", 5, None, ["tok_visa"]]:
    FIELD_CASES.append(("POST", "/api/payments", "buyer", {"orderId": "{order}", "token": token}, 400))
for email in [5, None, "a" * 300 + "@x.com", "no-at-sign", "bad\x00@x.com", "a\ud800@x.co", "a@x\udc00.co"]:
    FIELD_CASES.append(("POST", "/api/users/signup", "anonymous", {"email": email, "password": "password"}, 400))
    FIELD_CASES.append(("POST", "/api/users/signin", "anonymous", {"email": email, "password": "password"}, 400))
for password in [5, None, "p", "p" * 21, "pass\ud800word"]:
    FIELD_CASES.append(("POST", "/api/users/signup", "anonymous", {"email": "new@test.com", "password": password}, 400))
FIELD_CASES.append(("POST", "/api/users/signin", "anonymous", {"email": "buyer@test.com", "password": "\ud800"}, 400))
FIELD_CASES.append(("POST", "/api/payments", "buyer", {"orderId": "{order}", "token": "tok_\ud800"}, 400))
FIELD_CASES.append(("POST", "/api/orders", "buyer", {"ticketId": "{ticket}\ud800"}, 400))
# Ids of the wrong shape in paths, and bad query parameters.
for bad_id in ["123", "not-a-uuid", "x" * 1000, "%00", "..%2F..", "%F0%9F%8E%AB", "{ticket}x"]:
    FIELD_CASES.append(("GET", f"/api/tickets/{bad_id}", "anonymous", None, 404))
    FIELD_CASES.append(("PUT", f"/api/tickets/{bad_id}", "seller", {"title": "t", "price": 1}, 404))
    FIELD_CASES.append(("GET", f"/api/orders/{bad_id}", "buyer", None, 404))
    FIELD_CASES.append(("DELETE", f"/api/orders/{bad_id}", "buyer", None, 404))
for query, status in [
    ("limit=abc", 400),
    ("limit=0", 400),
    ("limit=101", 400),
    ("limit=-1", 400),
    ("limit=99999999999999999999999", 400),
    ("cursor=" + "x" * 600, 400),
    ("owner=you", 400),
    ("cursor=garbage", 400),
    ("cursor=MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHx4", 400),
    ("cursor=MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwA", 400),
]:
    FIELD_CASES.append(("GET", f"/api/tickets?{query}", "anonymous", None, status))
    if not query.startswith("owner"):
        FIELD_CASES.append(("GET", f"/api/orders?{query}", "buyer", None, status))


def _client(world: World, who: str) -> FlaskClient:
    return {"anonymous": world.api.client(), "seller": world.seller, "buyer": world.buyer}[who]


def _fill(text: str, world: World) -> str:
    return text.replace("{ticket}", world.ticket["id"]).replace("{order}", world.order["id"])


def _check(response: Any, expected: int, world: World, before: tuple[object, ...]) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected >= 400:
        errors_of(response)
        assert world.snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "who", "label", "raw", "content_type", "expected"),
    [
        pytest.param(method, path, who, label, raw, content_type, status, id=f"{method} {path} with {label}")
        for method, path, who in BODY_ROUTES
        for label, raw, content_type, status in RAW_BODIES
        # Requests without the cookie need no CSRF check: a form there is just not JSON (415).
        if not (label.startswith("a form") and who == "anonymous" and "sign" not in path)
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_cleanly(
    world: World, method: str, path: str, who: str, label: str, raw: bytes, content_type: str, expected: int
) -> None:
    before = world.snapshot()

    response = _client(world, who).open(_fill(path, world), method=method, data=raw, content_type=content_type)

    _check(response, expected, world, before)


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "expected"),
    [pytest.param(*case, id=f"{case[0]} {case[1][:60]} {json.dumps(case[3])[:60]}") for case in FIELD_CASES],
)
def test_bad_fields_ids_and_parameters_are_refused_cleanly(
    world: World, method: str, path: str, who: str, body: dict[str, Any] | None, expected: int
) -> None:
    payload = None if body is None else {k: _fill(v, world) if isinstance(v, str) else v for k, v in body.items()}
    before = world.snapshot()

    response = _client(world, who).open(_fill(path, world), method=method, json=payload)

    _check(response, expected, world, before)


# Hostile credentials and bodies on the routes that take neither ids nor fields.
HEADER_CASES: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
    ("GET", "/api/users/currentuser", {"Authorization": "Bearer"}, None, 200),
    ("GET", "/api/users/currentuser", {"Authorization": "Basic dXNlcjpwYXNz"}, None, 200),
    ("GET", "/api/users/currentuser", {"Authorization": "Bearer " + "a" * 10_000}, None, 200),
    ("GET", "/api/users/currentuser", {"Authorization": "Bearer \u00e9t\u00e9"}, None, 200),
    ("GET", "/api/users/currentuser", {"Cookie": "eventhive=" + "x" * 3000}, None, 200),
    ("GET", "/api/users/currentuser", {"Cookie": "eventhive=a.b.c; eventhive=d.e.f"}, None, 200),
    ("POST", "/api/users/signout", {"Authorization": "Bearer not.a.token"}, b"{}", 200),
    ("POST", "/api/users/signout", {"Content-Type": "application/json"}, b"[[[[", 200),
    ("GET", "/api/orders", {"Authorization": "Bearer " + "a" * 10_000}, None, 401),
    ("GET", "/api/health?x=" + "y" * 2000, {}, None, 200),
    ("GET", "/api/openapi.json?x=%00", {}, None, 200),
    # The provider's webhook: nothing unsigned or unreadable gets past the signature check.
    ("POST", "/api/payments/webhooks/fake", {}, b"\xff\xfe\x00garbage", 400),
    ("POST", "/api/payments/webhooks/fake", {"X-Fake-Signature": "00" * 32}, b'{"id": "evt_1"}', 400),
    ("POST", "/api/payments/webhooks/fake", {"X-Fake-Signature": "\u00e9" * 64}, b"{}", 400),
    ("POST", "/api/payments/webhooks/fake", {"Content-Type": "text/plain"}, b"x" * (1024 * 1024 + 1), 413),
    ("POST", "/api/payments/webhooks/%00", {}, b"{}", 404),
    ("POST", "/api/payments/webhooks/" + "s" * 300, {}, b"{}", 404),
    ("POST", "/api/orders/not-an-id/refund", {"Authorization": "Bearer x"}, b"{}", 401),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "raw", "expected"),
    [pytest.param(*case, id=f"{case[0]} {case[1][:40]} {list(case[2].values())[:1]}"[:90]) for case in HEADER_CASES],
)
def test_hostile_credentials_and_bodies_on_the_other_routes_are_handled_cleanly(
    world: World, method: str, path: str, headers: dict[str, str], raw: bytes | None, expected: int
) -> None:
    before = world.snapshot()

    response = world.api.client().open(path, method=method, headers=headers, data=raw)

    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if path.startswith("/api/users/currentuser"):
        assert response.get_json() == {"currentUser": None}
    if expected >= 400:
        errors_of(response)
    assert world.snapshot() == before


@pytest.mark.parametrize(("method", "path", "who"), BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_a_chunked_body_over_the_limit_is_refused_whole_not_cut_short(
    world: World, method: str, path: str, who: str
) -> None:
    """Valid JSON, then spaces and garbage past the limit, sent without a length (chunked)."""
    import io

    body = b'{"title": "t", "price": 1, "email": "x@y.co", "password": "secret1", "ticketId": "x"}'
    body += b" " * HUGE + b"garbage"
    before = world.snapshot()
    environ = {"wsgi.input_terminated": True}  # what gunicorn says of a chunked body it de-chunks

    response = _client(world, who).open(
        _fill(path, world),
        method=method,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides=environ,
    )

    _check(response, 413, world, before)


def test_a_chunked_body_exactly_at_the_limit_is_read_whole(world: World) -> None:
    import io

    body = b'{"title": "t", "price": 1}'
    body += b" " * (65536 - len(body))
    response = world.seller.open(
        "/api/tickets",
        method="POST",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 201, response.get_data(as_text=True)
