"""schemathesis against a real ``eventhive serve``: every check, anonymous, with the cookie and with a Bearer token.

The schema is the server's own ``/api/openapi.json``. Each run goes through every operation with
schemathesis's coverage phase (boundary values, missing and wrong-typed fields, undeclared
methods and media types) and its fuzzing phase (``EVENTHIVE_FUZZ_EXAMPLES`` random cases per
operation: a few by default, many in ``tox -e fuzz``), and every check on every answer.

Only one kind of answer is configured away, per operation: a valid request refused by a business
rule that no check can know (the email is taken, the ticket is sold out or the caller's own, the
order is paid...). :data:`BUSINESS_REFUSALS` lists each with its reason, and the check
:func:`valid_requests_are_refused_only_by_business_rules` holds those refusals to the listed
messages, so a validation error on a valid request is still a finding.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response

from eventhive_core.adapters.fake_payments import DECLINES, UNKNOWN_METHOD_MESSAGE

MAX_EXAMPLES = int(os.environ.get("EVENTHIVE_FUZZ_EXAMPLES", "5"))
#: Each run's time limit: the default run takes some 20 seconds a run on two cores.
TIMEOUT = 300 + 10 * MAX_EXAMPLES
COOKIE = "eventhive"
PASSWORD = "fuzz-pass"  # the fuzz accounts' password (conftest.py)

#: positive_data_acceptance's own default (5xx are not_a_server_error's business).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
_PROVIDER_DECLINES = "|".join(re.escape(message) for message in {*DECLINES.values(), UNKNOWN_METHOD_MESSAGE})

#: Refusals of valid requests that depend on what the server holds, not on the request's shape,
#: per operation and status: each maps to the messages (regular expressions) it may carry.
BUSINESS_REFUSALS: dict[tuple[str, str], dict[int, str]] = {
    # The email is taken: the fuzzer signs up with the same generated emails more than once.
    ("POST", "/api/users/signup"): {400: "Email already in use"},
    # No such account, or another password: credentials are not a matter of shape.
    ("POST", "/api/users/signin"): {400: "Invalid credentials"},
    ("POST", "/api/users/tokens"): {400: "Invalid credentials"},
    # A cursor is valid only if this server issued it (it is opaque: the schema cannot tell).
    ("GET", "/api/tickets"): {400: "Cursor is not valid; follow the Link header"},
    ("GET", "/api/orders"): {400: "Cursor is not valid; follow the Link header"},
    # A unit of the ticket is held, or fewer units than were sold.
    ("PUT", "/api/tickets/{ticketId}"): {
        400: r"Cannot edit a reserved ticket|Capacity cannot be less than the \d+ units sold"
    },
    # Sold out, or the caller's own ticket; an Idempotency-Key the fuzzer used before with another body.
    ("POST", "/api/orders"): {
        400: "Ticket is already reserved|You cannot order your own ticket",
        422: "This Idempotency-Key was used with a different request; use a new key",
    },
    # The order is paid.
    ("DELETE", "/api/orders/{orderId}"): {400: "Cannot cancel a complete order"},
    # The order is paid or cancelled; the provider declines the card; a reused Idempotency-Key.
    ("POST", "/api/payments"): {
        400: "Order is already cancelled\\. Cannot make payment\\.|Order is already paid|" + _PROVIDER_DECLINES,
        422: "This Idempotency-Key was used with a different request; use a new key",
    },
    # Only a complete order can be refunded (and a refund completes nothing).
    ("POST", "/api/orders/{orderId}/refund"): {400: "Only a complete order can be refunded"},
    # Only the provider can sign its webhooks.
    ("POST", "/api/payments/webhooks/{provider}"): {400: "Webhook signature verification failed"},
}


@schemathesis.check
def valid_requests_are_refused_only_by_business_rules(ctx: CheckContext, response: Response, case: Case) -> None:
    """A valid request answered with a status of :data:`BUSINESS_REFUSALS` carries only its listed messages."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    allowed = BUSINESS_REFUSALS.get((case.method.upper(), case.operation.path), {}).get(response.status_code)
    if allowed is None:
        return
    errors = response.json().get("errors", [])
    unexpected = [error for error in errors if not re.fullmatch(allowed, str(error.get("message")))]
    assert errors, f"{response.status_code} without errors"
    assert not unexpected, f"a valid request was refused with {response.status_code} {unexpected}"


def _config(
    seed: int,
    dictionaries: dict[str, list[str]],
    parameters: dict[str, str],
    per_operation: dict[tuple[str, str], dict[str, str]],
) -> schemathesis.Config:
    """Every check, the phases that need no links between operations, and ids that exist mixed with made-up ones.

    ``parameters`` binds a parameter (``path.orderId``, ``body.token``) to a dictionary of values the
    fuzzer uses half of the time; ``per_operation`` does the same for one operation.
    """

    def bind(bindings: dict[str, str]) -> dict[str, Any]:
        return {key: {"dictionary": name, "probability": 0.5} for key, name in bindings.items()}

    operations: list[dict[str, Any]] = []
    for (method, path), refusals in BUSINESS_REFUSALS.items():
        statuses = [*ACCEPTED, *map(str, refusals)]
        operations.append(
            {
                "include-name": f"{method} {path}",
                "checks": {"positive_data_acceptance": {"expected-statuses": statuses}},
                "parameters": bind({**parameters, **per_operation.get((method, path), {})}),
            }
        )
    for (method, path), bindings in per_operation.items():
        if (method, path) not in BUSINESS_REFUSALS:
            operations.append({"include-name": f"{method} {path}", "parameters": bind(bindings)})
    config: dict[str, Any] = {
        "seed": seed,
        "checks": {"enabled": True, "max_response_time": 10},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
        "parameters": bind(parameters),
        "operations": operations,
    }
    return schemathesis.Config.from_dict(config)


def _signed_in_as(server: Any, email: str, kind: str) -> type:
    """An auth provider that signs ``email`` in (again after a 401: sign-out revokes what it used)."""

    class SignedIn:
        def get(self, case: Case, context: Any) -> str:
            credentials = {"email": email, "password": PASSWORD}
            if kind == "bearer":
                return str(server.expect(200, "POST", "/api/users/tokens", credentials)["token"])
            answer = server.call("POST", "/api/users/signin", credentials)
            assert answer.status == 200, answer.body
            return str(answer.headers["Set-Cookie"].split(";")[0].partition("=")[2])

        def set(self, case: Case, data: str, context: Any) -> None:
            if kind == "bearer":
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
            else:
                case.cookies = {**(case.cookies or {}), COOKIE: data}

    return SignedIn


def _load(server: Any, config: schemathesis.Config) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", config=config)


@pytest.fixture(scope="session")
def anonymous_schema(fuzz_server: Any, world: Any, fuzz_seed: int) -> Any:
    config = _config(fuzz_seed, {"tickets": world.anonymous_tickets}, {"path.ticketId": "tickets"}, {})
    return _load(fuzz_server, config)


def _identity_schema(server: Any, identity: Any, kind: str, seed: int) -> Any:
    dictionaries = {
        "tickets": identity.tickets,
        "editable": identity.editable,
        "orders": identity.orders,
        "payable": identity.payable,
        "refundable": identity.refundable,
        # Cards the fake provider knows: paid, waiting for 3-D Secure, declined.
        "cards": ["tok_visa", "tok_threeDSecure2Required", "tok_chargeDeclined"],
        "emails": [identity.email],
        "passwords": [PASSWORD],
    }
    parameters = {
        "path.ticketId": "tickets",
        "body.ticketId": "tickets",
        "path.orderId": "orders",
        "body.orderId": "payable",
        "body.token": "cards",
        "body.email": "emails",
        "body.password": "passwords",
    }
    per_operation = {
        ("PUT", "/api/tickets/{ticketId}"): {"path.ticketId": "editable"},
        ("POST", "/api/orders/{orderId}/refund"): {"path.orderId": "refundable"},
    }
    schema = _load(server, _config(seed, dictionaries, parameters, per_operation))
    schema.auth()(_signed_in_as(server, identity.email, kind))
    return schema


@pytest.fixture(scope="session")
def cookie_schema(fuzz_server: Any, world: Any, fuzz_seed: int) -> Any:
    return _identity_schema(fuzz_server, world.cookie, "cookie", fuzz_seed)


@pytest.fixture(scope="session")
def bearer_schema(fuzz_server: Any, world: Any, fuzz_seed: int) -> Any:
    return _identity_schema(fuzz_server, world.bearer, "bearer", fuzz_seed)


anonymous = schemathesis.pytest.from_fixture("anonymous_schema")
with_cookie = schemathesis.pytest.from_fixture("cookie_schema")
with_bearer = schemathesis.pytest.from_fixture("bearer_schema")


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
@anonymous.parametrize()
def test_every_operation_answers_an_anonymous_caller_as_documented(case: Case, cases_run: Counter[str]) -> None:
    cases_run["anonymous"] += 1
    case.call_and_validate()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
@with_cookie.parametrize()
def test_every_operation_answers_a_caller_signed_in_with_the_cookie_as_documented(
    case: Case, cases_run: Counter[str]
) -> None:
    cases_run["cookie"] += 1
    case.call_and_validate()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
@with_bearer.parametrize()
def test_every_operation_answers_a_caller_with_a_bearer_token_as_documented(
    case: Case, cases_run: Counter[str]
) -> None:
    cases_run["bearer"] += 1
    case.call_and_validate()
