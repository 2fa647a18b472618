"""What an operator reads: every log line of ``eventhive serve`` and ``eventhive worker`` is JSON, holds no
secret, and the request id of a purchase appears in the web process's lines and the worker's.

The platform runs as an operator would run it: ``eventhive serve`` (gunicorn, its relay in each
worker) and ``eventhive worker`` (a real Celery worker) on PostgreSQL and Redis, with logs going
to files (so ``auto`` means JSON). A seller signs up and sells, a buyer signs up, orders and pays
under a chosen ``X-Request-ID``, and a second order's two-second hold expires through the worker.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

from .conftest import EVENTHIVE, START_TIMEOUT, Browser, free_port, wait_until

pytestmark = pytest.mark.slow

PASSWORD = "horse-battery-91z"
JWT_SECRET = secrets.token_urlsafe(48)
CARD_TOKEN = "tok_visa"


class Running:
    """One command, its standard output and its standard error (the log lines) in files of their own."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.log"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=err, start_new_session=True)

    def lines(self) -> list[str]:
        return self.err.read_text(errors="replace").splitlines()

    def everything(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def alive(self) -> bool:
        assert self.process.poll() is None, f"{self.name} exited:\n{self.everything()[-4000:]}"
        return True

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(name: str, argv: list[str], env: dict[str, str]) -> Running:
        running = Running(name, argv, env, tmp_path)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop(signal.SIGTERM)


def records(lines: list[str], name: str) -> list[dict[str, Any]]:
    """Parse every line as one JSON object; any other line fails the test, naming it."""
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} of {name}'s log is not JSON: {line!r}")
        assert isinstance(record, dict), f"line {number} of {name}'s log is not an object: {line!r}"
        assert {"timestamp", "level", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed


def with_id(found: list[dict[str, Any]], request_id: str) -> list[str]:
    return [record["message"] for record in found if record.get("request_id") == request_id]


def test_every_log_line_is_json_without_secrets_and_a_purchase_is_followed_by_its_request_id(
    postgres_database_factory: Callable[[], str],
    redis_server_url: str,
    redis_key_prefix: str,
    run: Callable[..., Running],
    tmp_path: Path,
) -> None:
    pytest.importorskip("celery", reason='eventhive worker needs Celery: pip install -e ".[all,test]"')
    pytest.importorskip("gunicorn", reason='eventhive serve needs gunicorn: pip install -e ".[all,test]"')
    queue = f"eventhive-logs-{secrets.token_hex(4)}"
    options = json.dumps({"queue": queue, "transport_options": {"global_keyprefix": redis_key_prefix}})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHIVE_", "CELERY_"))}
    env.update(UNREACHED_RATE_LIMITS)
    env.update(
        {
            "EVENTHIVE_STORAGE": "sqlalchemy",
            "EVENTHIVE_DATABASE_URL": postgres_database_factory(),
            "EVENTHIVE_SCHEDULER": "celery",
            "EVENTHIVE_SCHEDULER_OPTIONS": options,
            "EVENTHIVE_EVENT_BUS": "celery",
            "EVENTHIVE_EVENT_BUS_OPTIONS": options,
            "EVENTHIVE_JWT_SECRET": JWT_SECRET,
            "EVENTHIVE_RESERVATION_TTL": "2",
            "EVENTHIVE_EXPIRY_GRACE": "0.2",
            "EVENTHIVE_SWEEP_INTERVAL": "3600",
            "EVENTHIVE_OUTBOX_POLL_INTERVAL": "0.3",
            "CELERY_BROKER_URL": redis_server_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    port = free_port()
    serve_argv = [EVENTHIVE, "serve", "--port", str(port), "--workers", "2", "--data-dir", str(tmp_path / "data")]
    web = run("web", serve_argv, env)
    api = Browser(port)

    def healthy() -> bool:
        web.alive()
        try:
            return api.request("GET", "/api/health").status == 200
        except OSError:
            return False

    assert wait_until(healthy, START_TIMEOUT), web.everything()
    # After serve migrated the database; the worker's Hive needs its tables.
    worker_argv = [EVENTHIVE, "worker", "--hostname", f"{queue}@%h", "--concurrency", "2"]
    worker = run("worker", worker_argv, env)
    assert wait_until(lambda: worker.alive() and " ready." in worker.everything(), START_TIMEOUT), worker.everything()

    # Sign up and sell.
    seller, buyer = Browser(port), Browser(port)
    emails = [f"seller-{secrets.token_hex(3)}@example.com", f"buyer-{secrets.token_hex(3)}@example.com"]
    for person, email in zip((seller, buyer), emails, strict=True):
        assert person.request("POST", "/api/users/signup", {"email": email, "password": PASSWORD}).status == 201
    issued = api.request("POST", "/api/users/tokens", {"email": emails[1], "password": PASSWORD})
    assert issued.status == 200, issued.body
    bearer = {"Authorization": f"Bearer {issued.body['token']}"}
    concert = seller.request("POST", "/api/tickets", {"title": "Concert", "price": 20})
    play = seller.request("POST", "/api/tickets", {"title": "Play", "price": 15})
    assert concert.status == play.status == 201

    # Buy and pay under the operator's request id.
    purchase = f"purchase-{secrets.token_hex(6)}"
    order = api.request("POST", "/api/orders", {"ticketId": concert.body["id"]}, {**bearer, "X-Request-ID": purchase})
    assert order.status == 201, order.body
    assert order.headers["X-Request-ID"] == purchase
    payment = {"orderId": order.body["id"], "token": CARD_TOKEN}
    paid = api.request("POST", "/api/payments", payment, {**bearer, "X-Request-ID": purchase})
    assert paid.status == 201, paid.body
    assert paid.headers["X-Request-ID"] == purchase

    # A hold left unpaid: the worker's expiry task cancels it, under the id of the request that placed it.
    hold_request = f"hold-{secrets.token_hex(6)}"
    hold = buyer.request("POST", "/api/orders", {"ticketId": play.body["id"]}, {"X-Request-ID": hold_request})
    assert hold.status == 201, hold.body

    def expired_by_the_worker() -> bool:
        return any(
            "eventhive.expire_order" in record["message"] and "'expired'" in record["message"]
            for record in records(worker.lines(), "worker")
        )

    assert wait_until(lambda: worker.alive() and expired_by_the_worker(), 20), worker.everything()[-4000:]

    # The purchase's order:created reaches the worker, whose subscriber schedules its expiry.
    def delivered() -> bool:
        return any("deliver_event" in line for line in with_id(records(worker.lines(), "worker"), purchase))

    assert wait_until(delivered, 15), worker.lines()
    web.stop()
    worker.stop(signal.SIGTERM)

    web_records, worker_records = records(web.lines(), "web"), records(worker.lines(), "worker")
    # The web process: the purchase's request lines and its relay's lines carry the id.
    web_lines = with_id(web_records, purchase)
    assert "POST /api/orders 201" in web_lines
    assert "POST /api/payments 201" in web_lines
    assert any(line.startswith("Published order:completed") for line in web_lines), web_lines
    assert any(line.startswith("Published order:created") for line in with_id(web_records, hold_request))
    # The worker: the delivery of the purchase's order:created and the expiry task it scheduled carry it...
    worker_lines = with_id(worker_records, purchase)
    assert any("eventhive.deliver_event" in line and "succeeded" in line for line in worker_lines), worker_lines
    assert any("eventhive.expire_order" in line for line in worker_lines), worker_lines
    # ...and the hold's expiry carries the id of the request that placed the hold.
    assert any("'expired'" in line for line in with_id(worker_records, hold_request))
    # Not one secret, token, password or card token in any log line.
    secrets_used = {
        "the password": PASSWORD,
        "the signing secret": JWT_SECRET,
        "the bearer token": issued.body["token"],
        "the card token": CARD_TOKEN,
        **{f"the {name} cookie of the seller": value for name, value in seller.cookies.items()},
        **{f"the {name} cookie of the buyer": value for name, value in buyer.cookies.items()},
    }
    assert seller.cookies
    assert buyer.cookies
    for running in (web, worker):
        logged = "\n".join(running.lines())
        for what, value in secrets_used.items():
            assert value not in logged, f"{what} appears in {running.name}'s log"
