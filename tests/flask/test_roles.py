"""A service of a split (``EVENTHIVE_ROLE``) serves its own routes only; another's answer 404 like an unknown path."""

from __future__ import annotations

import http.server
import re
import threading
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from eventhive_core import ConfigurationError, HiveSettings, Money, OrderStatus, OrderView, TicketSummary
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.ports.payments import PaymentProviderError
from eventhive_core.testing.fakes import FrozenClock
from eventhive_flask import EventHive
from eventhive_flask.roles import ROLE_ROUTES
from eventhive_flask.testing import make_test_app

SERVICES = ("auth", "tickets", "orders", "payments", "expiration")
ROLES = (*SERVICES, "client")
SOME_ID = "01a236d2-b2eb-706e-bfff-0236e0503719"

#: One request per route of the API, with the service that owns it.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("auth", "POST", "/api/users/signup"),
    ("auth", "POST", "/api/users/signin"),
    ("auth", "POST", "/api/users/signout"),
    ("auth", "GET", "/api/users/currentuser"),
    ("auth", "POST", "/api/users/tokens"),
    ("tickets", "GET", "/api/tickets"),
    ("tickets", "POST", "/api/tickets"),
    ("tickets", "GET", f"/api/tickets/{SOME_ID}"),
    ("tickets", "PUT", f"/api/tickets/{SOME_ID}"),
    ("orders", "GET", "/api/orders"),
    ("orders", "POST", "/api/orders"),
    ("orders", "GET", f"/api/orders/{SOME_ID}"),
    ("orders", "DELETE", f"/api/orders/{SOME_ID}"),
    ("orders", "POST", f"/api/orders/{SOME_ID}/refund"),
    ("payments", "POST", "/api/payments"),
    ("payments", "POST", "/api/payments/webhooks/fake"),
)

#: Paths every service answers.
SHARED = (("GET", "/api/health"), ("GET", "/api/health/ready"), ("GET", "/api/openapi.json"))


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return generate_ed25519_keypair()


@pytest.fixture
def role_app(key_pair: tuple[str, str], clock: FrozenClock) -> Iterator[Callable[..., Flask]]:
    """``build(role, **config)``: an app of one service, keyed as a split keys it (only auth signs)."""
    built: list[Flask] = []
    private_key, public_key = key_pair

    def build(role: str, **config: Any) -> Flask:
        key = {"EVENTHIVE_JWT_PRIVATE_KEY": private_key} if role == "auth" else {"EVENTHIVE_JWT_PUBLIC_KEY": public_key}
        if role == "client":
            # The pages' client calls the API wherever it is; these tests never reach it.
            key.update(EVENTHIVE_API_URL="http://127.0.0.1:9", SECRET_KEY="client-csrf-secret-" + "x" * 24)
        key.update(config)
        app = make_test_app(
            clock=clock,
            EVENTHIVE_ROLE=role,
            EVENTHIVE_JWT_ALGORITHM="EdDSA",
            EVENTHIVE_JWT_SECRET=None,
            **key,
        )
        built.append(app)
        return app

    yield build
    for app in built:
        EventHive.hive_for(app).close()


def _routed(app: Flask, method: str, path: str) -> bool:
    try:
        app.url_map.bind("localhost").match(path, method=method)
    except Exception:
        return False
    return True


def test_the_routes_table_names_every_role_the_settings_accept() -> None:
    accepted = typing.get_args(typing.get_args(HiveSettings.model_fields["role"].annotation)[0])

    assert set(ROLE_ROUTES) == set(accepted) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_a_service_routes_its_own_paths_and_the_shared_ones_and_no_other(
    role: str, role_app: Callable[..., Flask]
) -> None:
    app = role_app(role)

    own = [(method, path) for owner, method, path in ROUTES if owner == role]
    others = [(method, path) for owner, method, path in ROUTES if owner != role]
    assert [route for route in [*own, *SHARED] if not _routed(app, *route)] == []
    assert [route for route in others if _routed(app, *route)] == []


@pytest.mark.parametrize("role", ROLES)
def test_another_services_route_answers_404_exactly_as_an_unknown_path(
    role: str, role_app: Callable[..., Flask]
) -> None:
    client = role_app(role).test_client()
    unknown = client.post("/api/nowhere", json={})
    assert unknown.status_code == 404

    for owner, method, path in ROUTES:
        if owner == role:
            continue
        response = client.open(path, method=method, json={} if method in {"POST", "PUT"} else None)
        assert (response.status_code, response.get_json()) == (404, unknown.get_json()), (method, path)
        assert response.headers["Content-Type"] == unknown.headers["Content-Type"]


@pytest.mark.parametrize("role", ROLES)
def test_every_service_answers_its_health_route(role: str, role_app: Callable[..., Flask]) -> None:
    response = role_app(role).test_client().get("/api/health")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


@pytest.mark.parametrize("role", ROLES)
def test_every_service_answers_its_readiness_route(role: str, role_app: Callable[..., Flask]) -> None:
    response = role_app(role).test_client().get("/api/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"storage": "ok", "bus": "ok"}}


@pytest.mark.parametrize("role", ROLES)
def test_the_openapi_document_lists_the_paths_the_service_routes(role: str, role_app: Callable[..., Flask]) -> None:
    app = role_app(role)
    document = app.test_client().get("/api/openapi.json").get_json()

    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "<x>", path))
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, re.sub(r"<[^>]+>", "<x>", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.rule != "/api/openapi.json"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert documented == served
    assert {("GET", "/api/health"), ("GET", "/api/health/ready")} <= documented


def test_the_auth_service_signs_users_up_and_in(role_app: Callable[..., Flask]) -> None:
    client = role_app("auth").test_client()
    credentials = {"email": "ann@example.com", "password": "password"}

    assert client.post("/api/users/signup", json=credentials).status_code == 201
    assert client.get("/api/users/currentuser").get_json()["currentUser"]["email"] == "ann@example.com"
    assert client.post("/api/users/signin", json=credentials).status_code == 200
    assert client.post("/api/users/tokens", json=credentials).status_code == 200
    assert client.post("/api/users/signout", json={}).status_code == 200


def test_the_tickets_service_lists_a_ticket_for_the_user_the_auth_services_cookie_names(
    role_app: Callable[..., Flask],
) -> None:
    auth, tickets = role_app("auth").test_client(), role_app("tickets").test_client()
    signed_up = auth.post("/api/users/signup", json={"email": "seller@example.com", "password": "password"})
    cookie = auth.get_cookie("eventhive")
    assert cookie is not None
    tickets.set_cookie("eventhive", cookie.value)

    created = tickets.post("/api/tickets", json={"title": "Gig", "price": 10})

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["userId"] == signed_up.get_json()["id"]
    assert tickets.get(f"/api/tickets/{created.get_json()['id']}").status_code == 200
    assert [t["id"] for t in tickets.get("/api/tickets").get_json()] == [created.get_json()["id"]]


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("orders", "GET", "/api/orders"),
        ("orders", "POST", "/api/orders"),
        ("orders", "DELETE", f"/api/orders/{SOME_ID}"),
        ("orders", "POST", f"/api/orders/{SOME_ID}/refund"),
        ("payments", "POST", "/api/payments"),
    ],
)
def test_the_orders_and_payments_services_answer_their_routes_with_their_own_refusals(
    role: str, method: str, path: str, role_app: Callable[..., Flask]
) -> None:
    response = role_app(role).test_client().open(path, method=method, json={} if method == "POST" else None)

    assert response.status_code == 401  # routed, and refused for want of a signed-in user


def test_the_payments_service_takes_its_providers_webhook(role_app: Callable[..., Flask]) -> None:
    response = role_app("payments").test_client().post("/api/payments/webhooks/fake", data=b"{}")

    assert response.status_code != 404


@pytest.mark.parametrize("role", SERVICES)
def test_a_service_serves_no_pages_by_default(role: str, role_app: Callable[..., Flask]) -> None:
    app = role_app(role)

    assert "eventhive_pages" not in app.blueprints
    assert app.config["EVENTHIVE_PAGES"] is False
    assert app.test_client().get("/").status_code == 404


def test_the_client_role_serves_the_pages_and_no_api_route_but_health(role_app: Callable[..., Flask]) -> None:
    app = role_app("client")

    assert "eventhive_pages" in app.blueprints
    assert app.config["EVENTHIVE_PAGES"] is True
    assert [route for route in ROUTES if _routed(app, route[1], route[2])] == []
    assert app.test_client().get("/api/health").status_code == 200


def test_the_client_role_without_an_api_url_fails_at_start_naming_it(clock: FrozenClock) -> None:
    with pytest.raises(ConfigurationError, match="EVENTHIVE_API_URL"):
        make_test_app(clock=clock, EVENTHIVE_ROLE="client", SECRET_KEY="client-csrf-secret-" + "x" * 24)


def test_asking_for_the_pages_with_a_role_fails_at_start_naming_both_settings(
    role_app: Callable[..., Flask],
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        role_app("tickets", EVENTHIVE_PAGES=True)

    assert "EVENTHIVE_PAGES=true" in refused.value.message
    assert "EVENTHIVE_ROLE=tickets" in refused.value.message


def test_a_service_may_say_pages_off_itself(role_app: Callable[..., Flask]) -> None:
    app = role_app("orders", EVENTHIVE_PAGES=False)

    assert "eventhive_pages" not in app.blueprints


def test_the_whole_platform_keeps_every_route_and_its_pages(clock: FrozenClock) -> None:
    app = make_test_app(clock=clock, SECRET_KEY="s" * 32)
    try:
        assert [(method, path) for _, method, path in ROUTES if not _routed(app, method, path)] == []
        assert "eventhive_pages" in app.blueprints
    finally:
        EventHive.hive_for(app).close()


class _RecordingApi(http.server.BaseHTTPRequestHandler):
    """An API stand-in that lists no tickets and keeps the headers of each call it answers."""

    calls: typing.ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.calls.append(dict(self.headers.items()))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def recording_api() -> Iterator[tuple[str, list[dict[str, str]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingApi)
    _RecordingApi.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _RecordingApi.calls
    server.shutdown()
    server.server_close()


def test_the_client_tells_the_api_the_browsers_address_scheme_and_host_as_its_proxy_resolved_them(
    role_app: Callable[..., Flask], recording_api: tuple[str, list[dict[str, str]]]
) -> None:
    url, calls = recording_api
    app = role_app("client", EVENTHIVE_API_URL=url, EVENTHIVE_PROXY_HOPS=1)
    forwarded_by_the_front = {
        "X-Forwarded-For": "198.51.100.4",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "eventhive.dev",
    }

    page = app.test_client().get("/", headers=forwarded_by_the_front, environ_base={"REMOTE_ADDR": "10.0.0.2"})

    assert page.status_code == 200
    (call,) = calls
    assert {name: call.get(name) for name in forwarded_by_the_front} == forwarded_by_the_front


def test_without_a_trusted_proxy_the_client_forwards_the_peers_address_not_what_the_browser_claims(
    role_app: Callable[..., Flask], recording_api: tuple[str, list[dict[str, str]]]
) -> None:
    url, calls = recording_api
    app = role_app("client", EVENTHIVE_API_URL=url)
    claimed = {"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}

    page = app.test_client().get("/", headers=claimed, environ_base={"REMOTE_ADDR": "10.0.0.2"})

    assert page.status_code == 200
    (call,) = calls
    assert (call["X-Forwarded-For"], call["X-Forwarded-Proto"], call["X-Forwarded-Host"]) == (
        "10.0.0.2",
        "http",
        "localhost",
    )


def test_the_clients_stripe_form_needs_no_secret_and_posts_to_the_api_where_the_front_serves_it(
    role_app: Callable[..., Flask],
) -> None:
    from eventhive_flask.views.pages import _stripe_form

    app = role_app(
        "client",
        EVENTHIVE_PAYMENT_PROVIDER="stripe",
        EVENTHIVE_STRIPE_PUBLISHABLE_KEY="pk_test_client",
    )
    order = OrderView(
        id=SOME_ID,
        status=OrderStatus.CREATED,
        buyer_id=SOME_ID,
        quantity=1,
        amount=Money(2000),
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        version=0,
        ticket=TicketSummary(SOME_ID, "concert", Money(2000), 0),
    )

    with app.test_request_context("/orders/" + SOME_ID):
        form = _stripe_form(order)

    assert form is not None
    assert (form.pay_url, form.order_url, form.publishable_key) == (
        "/api/payments",
        f"/api/orders/{SOME_ID}",
        "pk_test_client",
    )


def test_the_client_holds_no_payment_gateway_that_could_move_money(role_app: Callable[..., Flask]) -> None:
    app = role_app("client", EVENTHIVE_PAYMENT_PROVIDER="stripe", EVENTHIVE_STRIPE_PUBLISHABLE_KEY="pk_test_client")
    gateway = EventHive.hive_for(app).payment_gateway

    assert gateway.name == "stripe"
    with pytest.raises(PaymentProviderError, match="the payments service does"):
        gateway.charge(amount=Money(2000), token="pm_card_visa", idempotency_key="k", metadata={})
    with pytest.raises(PaymentProviderError):
        gateway.refund(provider_ref="pi_1", amount=Money(2000), idempotency_key="k")
