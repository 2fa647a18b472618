"""The OpenAPI document matches the server: every route is documented, and real responses validate."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from eventhive_flask.testing import ApiHarness as Api


def _json(response: Any) -> Any:
    # Decimals, as the server reads and writes them: 19.99 is a multiple of 0.01, which float division denies.
    return json.loads(response.get_data(), parse_float=Decimal)


def _document(api: Api) -> dict[str, Any]:
    response = api.client().get("/api/openapi.json")
    assert response.status_code == 200
    return dict(_json(response))


def _operation_for(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def _validate(document: dict[str, Any], method: str, path: str, response: Any) -> None:
    operation = _operation_for(document, method, path.split("?")[0])
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{method} {path} answered {response.status_code}, not documented"
    for name, header in declared.get("headers", {}).items():
        assert not header["required"] or name in response.headers, f"{method} {path}: no {name} header"
    if "content" not in declared:
        assert response.get_data() == b""
        return
    schema = {"components": document["components"], **declared["content"]["application/json"]["schema"]}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(_json(response))


def test_the_document_is_openapi_3_1_with_every_api_route(api: Api) -> None:
    document = _document(api)
    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "<x>", path))
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, re.sub(r"<[^>]+>", "<x>", rule.rule))
        for rule in api.app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.rule != "/api/openapi.json"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }

    assert document["openapi"].startswith("3.1")
    assert documented == served


def test_real_responses_match_the_document(api: Api) -> None:
    document = _document(api)
    seen: list[tuple[str, str, int]] = []

    def call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
        response = client.open(path, method=method, **kwargs)
        _validate(document, method, path, response)
        seen.append((method, path, response.status_code))
        return response

    anonymous = api.client()
    seller, buyer = api.client(), api.client()
    call(seller, "POST", "/api/users/signup", json={"email": "seller@test.com", "password": "password"})
    call(buyer, "POST", "/api/users/signup", json={"email": "buyer@test.com", "password": "password"})
    call(anonymous, "POST", "/api/users/signup", json={"email": "bad", "password": "p"})
    call(buyer, "POST", "/api/users/signin", json={"email": "buyer@test.com", "password": "password"})
    call(anonymous, "POST", "/api/users/signin", json={"email": "buyer@test.com", "password": "nope"})
    token = call(anonymous, "POST", "/api/users/tokens", json={"email": "seller@test.com", "password": "password"})
    call(anonymous, "GET", "/api/users/currentuser")
    call(buyer, "GET", "/api/users/currentuser")
    ticket = call(seller, "POST", "/api/tickets", json={"title": "gig", "price": 19.99, "capacity": 2}).get_json()
    call(anonymous, "POST", "/api/tickets", json={"title": "gig", "price": 1})
    call(seller, "POST", "/api/tickets", json={"title": "", "price": -1})
    call(seller, "POST", "/api/tickets", data="x", content_type="text/plain")
    call(anonymous, "POST", "/api/tickets", data="x", headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    call(anonymous, "GET", "/api/tickets")
    call(anonymous, "GET", "/api/tickets?limit=abc")
    call(seller, "GET", "/api/tickets?owner=me&limit=1")
    call(anonymous, "GET", f"/api/tickets/{ticket['id']}")
    call(anonymous, "GET", "/api/tickets/nope")
    call(seller, "PUT", f"/api/tickets/{ticket['id']}", json={"title": "gig 2", "price": 25})
    call(buyer, "PUT", f"/api/tickets/{ticket['id']}", json={"title": "mine", "price": 25})
    order = call(buyer, "POST", "/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "o1"})
    call(buyer, "POST", "/api/orders", json={"ticketId": ticket["id"]}, headers={"Idempotency-Key": "o1"})
    call(
        buyer, "POST", "/api/orders", json={"ticketId": ticket["id"], "quantity": 2}, headers={"Idempotency-Key": "o1"}
    )
    call(buyer, "POST", "/api/orders", json={"ticketId": ticket["id"], "quantity": 5})
    call(seller, "PUT", f"/api/tickets/{ticket['id']}", json={"title": "held", "price": 25})
    call(buyer, "GET", "/api/orders")
    call(buyer, "GET", f"/api/orders/{order.get_json()['id']}")
    call(seller, "GET", f"/api/orders/{order.get_json()['id']}")
    call(buyer, "POST", "/api/payments", json={"orderId": order.get_json()["id"], "token": "tok_chargeDeclined"})
    call(buyer, "POST", "/api/payments", json={"orderId": order.get_json()["id"], "token": "tok_unreachable"})
    call(buyer, "POST", "/api/payments", json={"orderId": order.get_json()["id"], "token": "tok_visa"})
    call(buyer, "DELETE", f"/api/orders/{order.get_json()['id']}")
    second = call(buyer, "POST", "/api/orders", json={"ticketId": ticket["id"]}).get_json()
    call(buyer, "DELETE", f"/api/orders/{second['id']}")
    call(buyer, "POST", "/api/payments", json={"orderId": second["id"], "token": "tok_visa"})
    third = call(buyer, "POST", "/api/orders", json={"ticketId": ticket["id"]}).get_json()
    call(buyer, "POST", "/api/payments", json={"orderId": third["id"], "token": "tok_threeDSecure2Required"})
    call(seller, "POST", f"/api/orders/{order.get_json()['id']}/refund", json={})
    call(seller, "POST", f"/api/orders/{order.get_json()['id']}/refund", json={})
    call(anonymous, "POST", "/api/payments/webhooks/fake", json={"id": "evt_1"})
    call(anonymous, "POST", "/api/payments/webhooks/stripe", json={})
    call(anonymous, "GET", "/api/health")
    call(anonymous, "GET", "/api/health/ready")
    call(buyer, "POST", "/api/users/signout", json={})
    call(seller, "POST", "/api/tickets", data=b"x" * 70_000, content_type="application/json")

    statuses = {status for _, _, status in seen}
    assert {200, 201, 204, 400, 401, 403, 404, 413, 415, 422, 502} <= statuses


def test_a_refusal_by_the_rate_limits_matches_the_document(make_api: Any) -> None:
    api = make_api(EVENTHIVE_RATE_LIMITS=True, EVENTHIVE_RATE_LIMIT_SIGNIN="1 per minute")
    document = _document(api)
    credentials = {"email": "nobody@test.com", "password": "password"}

    first = api.client().post("/api/users/signin", json=credentials)
    second = api.client().post("/api/users/signin", json=credentials)

    assert (first.status_code, second.status_code) == (400, 429)
    _validate(document, "POST", "/api/users/signin", second)


def test_the_document_follows_the_currency_the_units_per_order_and_the_payment_provider(make_api: Any) -> None:
    api = make_api(EVENTHIVE_CURRENCY="JPY", EVENTHIVE_MAX_UNITS_PER_ORDER=3)

    document = _document(api)
    schemas = document["components"]["schemas"]
    webhook = document["paths"]["/api/payments/webhooks/{provider}"]["post"]

    assert schemas["Price"]["multipleOf"] == 1
    assert re.fullmatch(schemas["PriceText"]["pattern"], "2500")
    assert not re.fullmatch(schemas["PriceText"]["pattern"], "25.50")
    assert schemas["Quantity"]["maximum"] == 3
    assert webhook["parameters"][0]["schema"] == {"type": "string", "enum": ["fake"]}


def test_request_fields_are_required_as_the_original_required_them_and_responses_are_closed(api: Api) -> None:
    schemas = _document(api)["components"]["schemas"]

    assert schemas["SignUpIn"]["required"] == ["email", "password"]
    assert schemas["TicketIn"]["required"] == ["title", "price"]
    assert schemas["OrderIn"]["required"] == ["ticketId"]
    assert schemas["PaymentIn"]["required"] == ["orderId", "token"]
    for name in ("TicketOut", "OrderOut", "PaymentOut", "UserOut", "ErrorOut", "ErrorEntry", "TokenOut"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["TicketOut"]["required"]) == set(schemas["TicketOut"]["properties"])
    assert "clientSecret" not in schemas["PaymentOut"]["required"]
    assert schemas["ErrorEntry"]["required"] == ["message"]


def test_every_operation_documents_the_failures_any_request_may_meet(api: Api) -> None:
    document = _document(api)
    error_schema = document["components"]["schemas"]["ErrorOut"]

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"500", "503"} <= set(operation["responses"]), f"{method} {path}"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    reference = response["content"]["application/json"]["schema"]["$ref"]
                    schema = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
                    # ErrorOut, or (readiness's 503) a body with its errors and more besides.
                    assert reference == "#/components/schemas/ErrorOut" or (
                        schema["properties"]["errors"] == error_schema["properties"]["errors"]
                        and "errors" in schema["required"]
                    ), f"{method} {path} {status}"


@pytest.mark.parametrize("prefix", ["/shop", "/a/b"])
def test_the_document_follows_the_url_prefix(make_api: Any, prefix: str) -> None:
    api = make_api(EVENTHIVE_URL_PREFIX=prefix)

    document = api.client().get(f"{prefix}/api/openapi.json").get_json()

    assert all(path.startswith(f"{prefix}/api/") for path in document["paths"])
