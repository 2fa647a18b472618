"""``eventhive service ROLE`` as real processes: five services, five PostgreSQL databases, one NATS bus."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from ..conftest import EVENTHIVE, Browser, free_port
from .conftest import ROLES, Split

NOT_FOUND = {"errors": [{"message": "Not Found"}]}


def _role_of_database(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT role FROM service_role")).scalar()
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_five_services_start_on_five_postgresql_databases_and_answer_health(split: Callable[..., Split]) -> None:
    services = split()

    for role in ROLES:
        health = Browser(services.ports[role]).request("GET", "/api/health")
        assert (role, health.status, health.body["status"]) == (role, 200, "ok")
    assert len({services.database_url(role) for role in ROLES}) == 5
    assert {role: _role_of_database(services.database_url(role)) for role in ROLES} == {role: role for role in ROLES}
    assert len(set(services.ports.values())) == 5


@pytest.mark.postgres
@pytest.mark.slow
def test_each_service_serves_its_own_routes_and_answers_404_for_another_services(
    split: Callable[..., Split],
) -> None:
    services = split()
    user = services.browser()
    credentials = {"email": "ann@example.com", "password": "secret1"}

    on_tickets = user.on("tickets").request("POST", "/api/users/signup", credentials)
    assert (on_tickets.status, on_tickets.body) == (404, NOT_FOUND)
    on_auth = user.on("auth").request("POST", "/api/users/signup", credentials)
    assert on_auth.status == 201
    assert on_auth.body["email"] == "ann@example.com"

    assert user.on("tickets").request("GET", "/api/tickets").status == 200
    assert user.on("auth").request("GET", "/api/tickets").status == 404
    assert user.on("orders").request("GET", "/api/tickets").body == NOT_FOUND
    assert user.on("orders").request("GET", "/api/orders").status == 200
    assert user.on("payments").request("POST", "/api/orders", {"ticketId": "x"}).status == 404
    payment = {"orderId": "01a236d2-b2eb-706e-bfff-0236e0503719", "token": "tok_visa"}
    anonymous = services.browser()
    assert anonymous.on("payments").request("POST", "/api/payments", payment).status == 401  # routed, then refused
    assert anonymous.on("tickets").request("POST", "/api/payments", payment).body == NOT_FOUND
    for path in ("/api/users/currentuser", "/api/tickets", "/api/orders"):
        assert user.on("expiration").request("GET", path).status == 404, path
    document = user.on("expiration").request("GET", "/api/openapi.json")
    assert list(document.body["paths"]) == ["/api/health", "/api/health/ready"]


@pytest.mark.postgres
@pytest.mark.slow
def test_a_user_signed_up_on_auth_lists_a_ticket_on_tickets_with_the_same_cookie(split: Callable[..., Split]) -> None:
    services = split()
    seller = services.browser()
    signed_up = seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    assert signed_up.status == 201

    # The tickets service keeps no accounts: it trusts the token auth signed, verified with the public key.
    ticket = seller.request("POST", "/api/tickets", {"title": "Jazz night", "price": "25.50"})

    assert ticket.status == 201, ticket.body
    assert ticket.body["userId"] == signed_up.body["id"]
    assert seller.request("GET", f"/api/tickets/{ticket.body['id']}").body["title"] == "Jazz night"
    assert seller.on("auth").request("GET", "/api/users/currentuser").body["currentUser"]["id"] == signed_up.body["id"]
    anonymous = services.browser()
    assert anonymous.request("POST", "/api/tickets", {"title": "Forged", "price": 1}).status == 401


@pytest.mark.postgres
@pytest.mark.slow
def test_a_service_started_on_another_services_database_exits_non_zero_naming_both(
    split: Callable[..., Split], tmp_path: Path
) -> None:
    services = split(roles=("auth",))
    env = {**services.env("tickets"), "EVENTHIVE_DATABASE_URL": services.database_url("auth")}

    result = subprocess.run(
        [EVENTHIVE, "service", "tickets", "--port", str(free_port()), "--data-dir", str(tmp_path / "wrong")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: Cannot start: The database ")
    assert "belongs to the auth service, so the tickets service will not start on it" in lines[0]
    assert result.stdout == ""  # no banner
    assert _role_of_database(services.database_url("auth")) == "auth"


def test_the_orders_service_on_the_in_process_bus_exits_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}

    result = subprocess.run(
        [EVENTHIVE, "service", "orders", "--port", "0", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: Cannot start the orders service: a split's services talk over a bus between processes: "
        "set EVENTHIVE_EVENT_BUS=nats\n"
    )
    assert not (tmp_path / "data").exists()  # refused before anything was made


@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_service_restarts_on_its_port_and_answers_again(split: Callable[..., Split]) -> None:
    services = split()
    seller = services.browser()
    seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    ticket = seller.request("POST", "/api/tickets", {"title": "Gig", "price": 10}).body
    port = services.ports["tickets"]

    services.kill("tickets")
    try:
        Browser(port).request("GET", "/api/health")
        answered = True
    except OSError:
        answered = False
    assert not answered
    services.start("tickets")

    assert services.ports["tickets"] == port
    assert Browser(port).request("GET", "/api/health").status == 200
    # Same database: the ticket is still there, and the cookie auth signed still works.
    assert seller.request("GET", f"/api/tickets/{ticket['id']}").body["title"] == "Gig"
    assert seller.request("POST", "/api/tickets", {"title": "Encore", "price": 12}).status == 201
    assert "Traceback" not in services.log("tickets").read_text()
