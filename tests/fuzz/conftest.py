"""A real ``eventhive serve`` for schemathesis, with a small world in it, and the cases it ran.

The server runs as users get it (``eventhive serve``, SQLite in its own data folder, fake
payments, rate limits on), with ceilings the fuzzer never reaches (it is one client sending
thousands of requests a minute, and the limits have tests of their own) and holds that outlast
the run. Before fuzzing, a few
users, tickets and orders are made through the API, so that generated requests can name things
that exist (see ``World``); schemathesis mixes their ids with ids it makes up.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

if importlib.util.find_spec("schemathesis") is None:
    # tests/fuzz/test_prerequisites.py says why (and fails under CI=true).
    collect_ignore = ["test_schemathesis.py"]

EVENTHIVE = shutil.which("eventhive", path=os.path.dirname(sys.executable)) or "eventhive"
START_TIMEOUT = 30.0
PASSWORD = "fuzz-pass"

#: Cases run per fuzzing run ("anonymous", "cookie", "bearer"), printed at the end of the session.
CASES_RUN: Counter[str] = Counter()
#: The seed of this session's runs: EVENTHIVE_FUZZ_SEED, or a new one (printed, so it can be replayed).
SEED = int(os.environ.get("EVENTHIVE_FUZZ_SEED") or random.randrange(2**32))


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: Any


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
            raw = conn.getresponse()
            payload = raw.read()
            return Answer(raw.status, raw.headers, json.loads(payload) if payload else None)
        finally:
            conn.close()

    def expect(self, status: int, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.call(method, path, body, headers)
        assert answer.status == status, f"{method} {path}: {answer.status} {answer.body}"
        return answer.body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(server: Server) -> bool:
    try:
        return server.call("GET", "/api/health").status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``eventhive serve`` on a free port with a fresh data folder; a server that does not start fails the test."""
    folder = tmp_path_factory.mktemp("fuzz")
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    environment.update(UNREACHED_RATE_LIMITS)
    # Holds outlast the longest run, so the orders made before fuzzing can still be paid at its end.
    environment["EVENTHIVE_RESERVATION_TTL"] = "3600"
    log_path = folder / "serve.log"
    command = [EVENTHIVE, "serve", "--port", str(port), "--workers", "1", "--data-dir", str(folder / "data")]
    with log_path.open("w") as log:
        # A file, not a pipe: nobody reads a pipe while the tests run, and a full one would block the server.
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(server) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        if not _healthy(server):
            pytest.fail(f"eventhive serve did not start (exit code {process.poll()}):\n{log_path.read_text()}")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Identity:
    """A signed-up user the fuzzer acts as, and what it may name."""

    email: str
    token: str
    #: Tickets to order (someone else's, one sold out) and the user's own.
    tickets: list[str] = field(default_factory=list)
    #: Tickets to edit: the user's own, and someone else's.
    editable: list[str] = field(default_factory=list)
    #: Orders to read and cancel: the user's (unpaid and paid) and someone else's.
    orders: list[str] = field(default_factory=list)
    #: Orders to pay: the user's, unpaid, named nowhere else so that nothing cancels them first.
    payable: list[str] = field(default_factory=list)
    #: Orders to refund: complete orders of the user's ticket, and of someone else's.
    refundable: list[str] = field(default_factory=list)


@dataclass
class World:
    """Everything made through the API before fuzzing."""

    seller: Identity
    anonymous_tickets: list[str]
    cookie: Identity
    bearer: Identity


def _sign_up(server: Server, email: str) -> Identity:
    server.expect(201, "POST", "/api/users/signup", {"email": email, "password": PASSWORD})
    token = server.expect(200, "POST", "/api/users/tokens", {"email": email, "password": PASSWORD})["token"]
    return Identity(email, token)


def _ticket(server: Server, owner: Identity, capacity: int = 1_000_000) -> str:
    body = {"title": f"Fuzz gig of {owner.email}", "price": "10.00", "capacity": capacity}
    return str(server.expect(201, "POST", "/api/tickets", body, owner.token)["id"])


def _order(server: Server, buyer: Identity, ticket: str, paid: bool = False) -> str:
    order = str(server.expect(201, "POST", "/api/orders", {"ticketId": ticket}, buyer.token)["id"])
    if paid:
        server.expect(201, "POST", "/api/payments", {"orderId": order, "token": "tok_visa"}, buyer.token)
    return order


def _furnish(server: Server, user: Identity, seller: Identity, other_buyer: Identity) -> None:
    theirs, sold_out, own = _ticket(server, seller), _ticket(server, seller, capacity=1), _ticket(server, user)
    _order(server, other_buyer, sold_out)
    user.tickets = [theirs, sold_out, own]
    user.editable = [_ticket(server, user), theirs]
    user.orders = [
        _order(server, user, theirs),
        _order(server, user, theirs, paid=True),
        _order(server, other_buyer, theirs),
    ]
    user.payable = [_order(server, user, theirs) for _ in range(3)]
    user.refundable = [_order(server, other_buyer, own, paid=True), _order(server, other_buyer, theirs, paid=True)]


@pytest.fixture(scope="session")
def world(fuzz_server: Server) -> World:
    seller, other_buyer = _sign_up(fuzz_server, "seller@fuzz.test"), _sign_up(fuzz_server, "buyer@fuzz.test")
    cookie, bearer = _sign_up(fuzz_server, "cookie@fuzz.test"), _sign_up(fuzz_server, "bearer@fuzz.test")
    _furnish(fuzz_server, cookie, seller, other_buyer)
    _furnish(fuzz_server, bearer, seller, other_buyer)
    return World(seller, [_ticket(fuzz_server, seller), *cookie.tickets[:2]], cookie, bearer)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's from_fixture() reads and renames `request.node._nodeid`, which pytest 9.2
    # no longer has (it keeps `nodeid` only); the renaming only labels subtests, so a copy will do.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="session")
def cases_run() -> Counter[str]:
    """Counts the cases of each run (the session prints them at the end)."""
    return CASES_RUN


@pytest.fixture(scope="session")
def fuzz_seed() -> int:
    """The seed schemathesis generates from (the session prints it at the end)."""
    return SEED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES_RUN:
        runs = ", ".join(f"{name} {count}" for name, count in sorted(CASES_RUN.items()))
        total = sum(CASES_RUN.values())
        terminalreporter.write_line(
            f"schemathesis: {total} cases run against eventhive serve ({runs}); "
            f"replay them with EVENTHIVE_FUZZ_SEED={SEED}"
        )
