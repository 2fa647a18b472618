"""The real ``eventhive serve`` walked over HTTP: sell, buy, pay; and an unpaid order expiring with no Celery."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here


def test_a_seller_and_a_buyer_trade_a_ticket_over_http(start_server: Callable[..., Server]) -> None:
    server = start_server()
    seller, buyer = server.browser(), server.browser()

    signup = seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    assert signup.status == 201
    # Plain HTTP on loopback: a Secure cookie would never come back from a browser.
    assert "HttpOnly" in signup.headers["Set-Cookie"]
    assert "Secure" not in signup.headers["Set-Cookie"]
    assert (
        buyer.request("POST", "/api/users/signup", {"email": "buyer@example.com", "password": "secret2"}).status == 201
    )
    ticket = seller.request("POST", "/api/tickets", {"title": "Jazz night", "price": "25.50"})
    assert ticket.status == 201
    assert ticket.body["price"] == 25.5
    listed = buyer.request("GET", "/api/tickets")
    assert [t["id"] for t in listed.body] == [ticket.body["id"]]

    order = buyer.request("POST", "/api/orders", {"ticketId": ticket.body["id"]})
    assert order.status == 201
    assert order.body["status"] == "created"
    assert buyer.request("GET", "/api/tickets").body == []

    payment = buyer.request("POST", "/api/payments", {"orderId": order.body["id"], "token": "tok_visa"})
    assert payment.status == 201
    assert payment.body["status"] == "succeeded"
    shown = buyer.request("GET", f"/api/orders/{order.body['id']}")
    assert shown.body["status"] == "complete"
    assert seller.request("GET", "/api/tickets?owner=me").body[0]["available"] == 0

    secret = server.data_dir / "jwt-secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert (server.data_dir / "eventhive.sqlite3").is_file()
    assert server.stop() == 0  # Ctrl-C stops it cleanly


def test_ctrl_c_stops_every_worker_cleanly_without_a_traceback(start_server: Callable[..., Server]) -> None:
    server = start_server(workers=2)
    assert server.stop() == 0
    log = server.log.read_text()
    # Show the traceback itself: pytest would cut a whole log short before reaching it.
    assert "Traceback" not in log, log[max(0, log.find("Traceback") - 300) :]
    assert f"serving on http://127.0.0.1:{server.port}/ (2 worker(s)); the JSON API is at" in log


def test_an_unpaid_order_is_cancelled_when_its_hold_runs_out(start_server: Callable[..., Server]) -> None:
    ttl, grace = 2, 2
    server = start_server(EVENTHIVE_RESERVATION_TTL=str(ttl), EVENTHIVE_EXPIRY_GRACE=str(grace))
    seller, buyer = server.browser(), server.browser()
    seller.request("POST", "/api/users/signup", {"email": "seller@example.com", "password": "secret1"})
    buyer.request("POST", "/api/users/signup", {"email": "buyer@example.com", "password": "secret2"})
    ticket = seller.request("POST", "/api/tickets", {"title": "Gig", "price": 10}).body
    order = buyer.request("POST", "/api/orders", {"ticketId": ticket["id"]}).body

    def cancelled() -> bool:
        return bool(buyer.request("GET", f"/api/orders/{order['id']}").body["status"] == "cancelled")

    assert server.wait_until(cancelled, timeout=ttl + grace + 5)
    assert [t["id"] for t in buyer.request("GET", "/api/tickets").body] == [ticket["id"]]


def test_tokens_survive_a_restart_because_the_secret_is_kept(start_server: Callable[..., Server]) -> None:
    server = start_server()
    user = server.browser()
    user.request("POST", "/api/users/signup", {"email": "ann@example.com", "password": "secret1"})
    assert server.stop() == 0

    restarted = start_server(data_dir=server.data_dir)
    user.port = restarted.port

    assert user.request("GET", "/api/users/currentuser").body["currentUser"]["email"] == "ann@example.com"


def test_a_ban_from_the_command_line_holds_in_every_worker(start_server: Callable[..., Server]) -> None:
    server = start_server(workers=2)
    user = server.browser()
    user.request("POST", "/api/users/signup", {"email": "bad@example.com", "password": "secret1"})
    assert user.request("GET", "/api/orders").status == 200
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    env["EVENTHIVE_STORAGE"] = "sqlalchemy"
    env["EVENTHIVE_DATABASE_URL"] = f"sqlite:///{server.data_dir / 'eventhive.sqlite3'}"
    env["EVENTHIVE_JWT_SECRET"] = (server.data_dir / "jwt-secret").read_text()

    banned = subprocess.run(
        [str(Path(sys.executable).parent / "eventhive"), "users", "ban", "bad@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert banned.returncode == 0, banned.stderr
    # Many requests on fresh connections, so both workers answer some of them.
    statuses = {user.request("GET", "/api/orders").status for _ in range(20)}
    assert statuses == {401}
