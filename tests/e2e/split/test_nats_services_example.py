"""The five-services example (examples/nats-services), started with its one command and walked through its front.

``python examples/nats-services/run.py`` creates the databases and the key pair, writes the
front's nginx configuration and honcho's ``.env``, and runs honcho: the five ``eventhive
service`` processes and nginx. The test gives it free ports, databases and a NATS prefix of its
own, then talks to the front's one address only, with one cookie jar per user as a browser
keeps: a sale from sign-up to a complete order, and a hold that lapses. At the end it stops
honcho as Ctrl-C does and runs ``run.py reset``.

Without PostgreSQL, NATS, nginx or honcho it skips with the reason, and fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

from ..conftest import Browser, Response, free_port, wait_until
from ..test_behind_a_proxy import NGINX, require
from .test_split_flows import answered, until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[3] / "examples" / "nats-services"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
ROUTED = {"auth": "/api/users/currentuser", "tickets": "/api/tickets", "orders": "/api/orders", "client": "/"}


@dataclass
class Example:
    """The running example: its front's port, its environment (for ``reset``) and honcho's log."""

    process: subprocess.Popen[bytes]
    front_port: int
    env: dict[str, str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def browser(self) -> Browser:
        """A new user: one cookie jar for the front's one address."""
        return Browser(self.front_port)

    def send(self, user: Browser, method: str, path: str, body: object = None) -> Response:
        """A browser's same-origin request: the services see the front's address through X-Forwarded-Host."""
        return user.request(method, path, body, headers={"Origin": f"http://127.0.0.1:{self.front_port}"})

    def stop(self) -> None:
        """Ctrl-C honcho, as a terminal would; SIGKILL what is left after STOP_TIMEOUT."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT)
        # honcho starts each process in a session of its own: one it could not stop would outlive it.
        for pid in re.findall(r"started \(pid=(\d+)\)", self.output()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)

    def reset(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(EXAMPLE / "run.py"), "reset"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def example(
    tmp_path: Path, postgres_server_url: str, nats_url: str, nats_prefix: str
) -> Iterator[Callable[[], Example]]:
    """``example()``: start the example with its one command on free ports; stop and reset it afterwards."""
    require(NGINX.exists(), f"nginx is not installed at {NGINX} (bash .ci/install-nginx installs it)")
    pytest.importorskip("honcho", reason="honcho is in the test extra: pip install -e '.[all,test]'")
    started: list[Example] = []

    def start() -> Example:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
        env.update(UNREACHED_RATE_LIMITS)
        env.update(
            {
                "PG_SERVER_URL": postgres_server_url,
                "DB_PREFIX": f"ehtest_example_{secrets.token_hex(4)}_",
                "EVENTHIVE_NATS_URL": nats_url,
                "EVENTHIVE_NATS_PREFIX": nats_prefix,
                "DATA_DIR": str(tmp_path / "data"),
                "NGINX_BIN": str(NGINX),
                "FRONT_PORT": str(free_port()),
                "EVENTHIVE_CLIENT_PORT": str(free_port()),
                "EVENTHIVE_OUTBOX_POLL_INTERVAL": "0.2",
                "EVENTHIVE_RESERVATION_TTL": "2",
                "EVENTHIVE_EXPIRY_GRACE": "0",
                "EVENTHIVE_SWEEP_INTERVAL": "0.5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for role in ("auth", "tickets", "orders", "payments", "expiration"):
            env[f"PORT_{role.upper()}"] = str(free_port())
        log = tmp_path / "example.log"
        with log.open("wb") as out:
            # The README's one command; a session of its own so that Ctrl-C reaches honcho alone.
            process = subprocess.Popen(
                [sys.executable, str(EXAMPLE / "run.py")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = Example(process, int(env["FRONT_PORT"]), env, log)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
        print(f"\nThe example's output (last 80 lines):\n{chr(10).join(running.output().splitlines()[-80:])}")
        done = running.reset()
        assert done.returncode == 0, done.stdout + done.stderr


def status(port: int, path: str) -> int:
    """The status the front answers ``GET path`` with (nginx's own error pages are HTML, not JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def page(port: int, path: str) -> str:
    """The HTML the front answers ``GET path`` with."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def wait_for_the_front(example: Example) -> None:
    """Wait until the front answers and each routed service answers behind it (not nginx's 502)."""

    def ready() -> bool:
        assert example.process.poll() is None, example.output()[-5000:]
        try:
            return all(status(example.front_port, path) != 502 for path in ROUTED.values())
        except OSError:
            return False

    if not wait_until(ready, START_TIMEOUT, interval=0.3):
        pytest.fail(f"the front and its services did not answer within {START_TIMEOUT:g} s:\n{example.output()}")


def test_the_example_sells_a_ticket_and_cancels_a_lapsed_hold_through_its_front_alone(
    example: Callable[[], Example],
) -> None:
    running = example()
    wait_for_the_front(running)
    seller, buyer = running.browser(), running.browser()

    # Sign up at auth; the cookie it sets is the one the front's address keeps for every service.
    for user, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        assert running.send(user, "POST", "/api/users/signup", {"email": email, "password": "secret1"}).status == 201
        assert "eventhive" in user.cookies
    assert buyer.request("GET", "/api/users/currentuser").body["currentUser"]["email"] == "buyer@example.com"

    # Sell at tickets, buy at orders, pay at payments: each trusts the cookie auth set.
    ticket = running.send(seller, "POST", "/api/tickets", {"title": "Split night", "price": 20})
    assert ticket.status == 201, ticket.body
    ticket_id = ticket.body["id"]
    placed = until(
        "the orders service to know the ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": ticket_id})),
    )
    order_id = placed.body["id"]
    paid = until(
        "the payments service to know the order",
        lambda: answered(201, running.send(buyer, "POST", "/api/payments", {"orderId": order_id, "token": "tok_visa"})),
    )
    assert paid.body["status"] == "succeeded", paid.body
    # The orders service settles the payment a delivery later.
    until(
        "the order to be complete",
        lambda: buyer.request("GET", f"/api/orders/{order_id}").body["status"] == "complete",
    )

    # A hold left unpaid: cancelled after its 2 s, and the tickets service frees the unit again.
    other = running.send(seller, "POST", "/api/tickets", {"title": "Lapsed night", "price": 15})
    assert other.status == 201, other.body
    hold = until(
        "the orders service to know the second ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": other.body["id"]})),
    )
    until(
        "the tickets service to learn of the hold",
        lambda: buyer.request("GET", f"/api/tickets/{other.body['id']}").body["available"] == 0,
    )
    until(
        "the hold to be cancelled",
        lambda: buyer.request("GET", f"/api/orders/{hold.body['id']}").body["status"] == "cancelled",
    )
    until(
        "the tickets service to free the unit",
        lambda: buyer.request("GET", f"/api/tickets/{other.body['id']}").body["available"] == 1,
    )

    # Every other path is the client's: the pages, rendered over the same API through the front.
    assert status(running.front_port, "/") == 200
    assert "Lapsed night" in page(running.front_port, "/")


def test_the_original_nextjs_clients_calls_get_what_it_reads_through_the_front(example: Callable[[], Example]) -> None:
    # Each request as the original client sends it (reference §8), and each field its pages read.
    running = example()
    wait_for_the_front(running)
    seller, buyer = running.browser(), running.browser()

    assert buyer.request("GET", "/api/users/currentuser").body == {"currentUser": None}
    refused = running.send(buyer, "POST", "/api/users/signup", {"email": "not an email", "password": "secret1"})
    assert refused.status == 400
    assert [error["message"] for error in refused.body["errors"]]  # useRequest lists errors[].message
    for user, email in ((seller, "seller@example.com"), (buyer, "buyer@example.com")):
        signed = running.send(user, "POST", "/api/users/signup", {"email": email, "password": "secret1"})
        assert (signed.status, signed.body["email"]) == (201, email)
        assert user.request("GET", "/api/users/currentuser").body["currentUser"]["email"] == email

    # /tickets/new sends the price as text, reformatted to two decimals.
    ticket = running.send(seller, "POST", "/api/tickets", {"title": "Gig", "price": "20.00"})
    assert ticket.status == 201
    assert {"id", "title", "price", "userId"} <= set(ticket.body)
    listed = buyer.request("GET", "/api/tickets").body
    assert [(t["id"], t["title"], t["price"]) for t in listed] == [(ticket.body["id"], "Gig", 20)]
    shown = buyer.request("GET", f"/api/tickets/{ticket.body['id']}").body
    assert (shown["title"], shown["price"]) == ("Gig", 20)

    placed = until(
        "the orders service to know the ticket",
        lambda: answered(201, running.send(buyer, "POST", "/api/orders", {"ticketId": ticket.body["id"]})),
    )
    order = buyer.request("GET", f"/api/orders/{placed.body['id']}").body
    assert {"expiresAt", "status"} <= set(order)
    assert (order["ticket"]["title"], order["ticket"]["price"]) == ("Gig", 20)
    paid = until(
        "the payments service to know the order",
        lambda: answered(
            201, running.send(buyer, "POST", "/api/payments", {"orderId": order["id"], "token": "tok_visa"})
        ),
    )
    assert "id" in paid.body
    mine = buyer.request("GET", "/api/orders").body
    assert [(o["id"], o["ticket"]["title"], o["ticket"]["price"]) for o in mine] == [(order["id"], "Gig", 20)]
    until("the order to show paid", lambda: buyer.request("GET", "/api/orders").body[0]["status"] == "complete")

    assert running.send(buyer, "POST", "/api/users/signout", {}).status == 200
    assert buyer.request("GET", "/api/users/currentuser").body == {"currentUser": None}
