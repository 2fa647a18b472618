"""The reference deployment (examples/reference), started as its README says, walked over HTTP.

An operator's steps: copy the folder, write ``.env`` from ``.env.sample``, ``eventhive db upgrade``,
``honcho start`` (gunicorn serving ``create_app()``, a Celery worker, beat) on PostgreSQL and Redis.
Then a buyer pays for one ticket and leaves another hold unpaid, which the worker cancels on time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Broker, make_broker, wait_until

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"
BIN = Path(sys.executable).parent
METRICS_TOKEN = "reference-metrics-" + "0" * 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dotenv(sample: str, values: Mapping[str, str]) -> str:
    """Return ``.env.sample`` with the given keys set, as an operator edits it."""
    lines, seen = [], set()
    for line in sample.splitlines():
        key = line.split("=", 1)[0]
        if "=" in line and not line.startswith("#") and key in values:
            line = f"{key}={values[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{key}={value}" for key, value in values.items() if key not in seen]
    return "\n".join(lines) + "\n"


class Api:
    """A tiny JSON client on urllib (what curl would do)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def user(self) -> str:
        email, password = f"user-{secrets.token_hex(4)}@example.com", "password1"
        status, _ = self.call("POST", "/api/users/signup", {"email": email, "password": password})
        assert status == 201
        status, body = self.call("POST", "/api/users/tokens", {"email": email, "password": password})
        assert status == 200, body
        return str(body["token"])


@pytest.fixture
def redis_broker(broker_urls: dict[str, str | None]) -> Iterator[Broker]:
    made = make_broker("redis", broker_urls)
    yield made
    made.cleanup()


@pytest.fixture
def honcho_start(tmp_path: Path) -> Iterator[Callable[[Path, dict[str, str], int], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(folder: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
        with (tmp_path / "honcho.log").open("wb") as log:
            process = subprocess.Popen(
                [str(BIN / "honcho"), "start", "-p", str(port)],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def test_the_reference_deployment_sells_a_ticket_and_expires_an_unpaid_hold_over_http(
    redis_broker: Broker, postgres_database_factory: Callable[[], str], honcho_start: Any, tmp_path: Path
) -> None:
    pytest.importorskip("honcho", reason="honcho is in the test extra: pip install -e '.[all,test]'")
    pytest.importorskip("gunicorn", reason="gunicorn is in the server extra: pip install -e '.[all,test]'")
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE, folder)
    options = {"queue": redis_broker.queue, "transport_options": redis_broker.transport_options}
    (folder / ".env").write_text(
        _dotenv(
            (folder / ".env.sample").read_text(),
            {
                "EVENTHIVE_DATABASE_URL": postgres_database_factory(),
                "CELERY_BROKER_URL": redis_broker.url,
                "EVENTHIVE_SCHEDULER_OPTIONS": f"'{json.dumps(options)}'",
                "EVENTHIVE_EVENT_BUS_OPTIONS": f"'{json.dumps({'queue': redis_broker.queue})}'",
                "EVENTHIVE_JWT_SECRET": secrets.token_urlsafe(48),
                "EVENTHIVE_RESERVATION_TTL": "4",
                "EVENTHIVE_EXPIRY_GRACE": "0.2",
                "EVENTHIVE_OUTBOX_POLL_INTERVAL": "0.5",
                "EVENTHIVE_METRICS_TOKEN": METRICS_TOKEN,
            },
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHIVE_", "CELERY_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"

    # README step 4, word for word: load .env, migrate, start.
    upgrade = subprocess.run(
        ["bash", "-c", "set -a; . ./.env; set +a; eventhive db upgrade"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    port = _free_port()
    honcho = honcho_start(folder, env, port)
    log = tmp_path / "honcho.log"

    def output() -> str:
        return log.read_text(errors="replace")

    api = Api(f"http://127.0.0.1:{port}")

    def healthy() -> bool:
        assert honcho.poll() is None, output()[-5000:]
        try:
            return api.call("GET", "/api/health")[0] == 200
        except OSError:
            return False

    try:
        wait_until(healthy, timeout=60, every=0.3)
        wait_until(lambda: " ready." in output() and "beat: Starting" in output(), timeout=60)

        seller, buyer = api.user(), api.user()
        status, paid_ticket = api.call("POST", "/api/tickets", {"title": "Concert", "price": 20}, seller)
        assert status == 201, paid_ticket
        status, hold_ticket = api.call("POST", "/api/tickets", {"title": "Play", "price": 15}, seller)
        assert status == 201, hold_ticket

        # A purchase: order, pay, complete.
        status, order = api.call("POST", "/api/orders", {"ticketId": paid_ticket["id"]}, buyer)
        assert status == 201, order
        status, payment = api.call("POST", "/api/payments", {"orderId": order["id"], "token": "tok_visa"}, buyer)
        assert status == 201, payment
        assert api.call("GET", f"/api/orders/{order['id']}", token=buyer)[1]["status"] == "complete"

        # An unpaid hold: the worker cancels it on its ETA (the sweeper runs only every 15 s).
        status, hold = api.call("POST", "/api/orders", {"ticketId": hold_ticket["id"]}, buyer)
        assert status == 201, hold
        placed = time.monotonic()
        # The API shows the hold expired as soon as it ends (settled on read); the worker records it.
        expired = r"Task eventhive\.expire_order\[[^\]]+\] succeeded in [0-9.e-]+s: 'expired'"
        wait_until(lambda: re.search(expired, output()) is not None, timeout=20, every=0.3)
        assert time.monotonic() - placed < 15
        assert api.call("GET", f"/api/orders/{hold['id']}", token=buyer)[1]["status"] == "cancelled"

        # The ticket is on sale again, and the paid order stayed complete.
        other = api.user()
        status, again = api.call("POST", "/api/orders", {"ticketId": hold_ticket["id"]}, other)
        assert status == 201, again
        assert api.call("GET", f"/api/orders/{order['id']}", token=buyer)[1]["status"] == "complete"

        # The web process writes EventHive's JSON lines, and its two workers' counts add up in one
        # scrape (gunicorn.conf.py's multiprocess directory): the three orders placed, exactly.
        web = [line.split("| ", 1)[1] for line in output().splitlines() if re.match(r"\S+ web\.1\s+\| ", line)]
        loggers = {json.loads(line)["logger"] for line in web if line.startswith("{")}
        assert "eventhive_flask.requests" in loggers, web[:20]
        scrape = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        with urllib.request.urlopen(scrape, timeout=10) as response:
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.read().decode())
                for sample in family.samples
            }
        assert samples[("eventhive_reservations_total", (("outcome", "placed"),))] == 3
        assert list((folder / "eventhive-data" / "metrics" / "web").glob("counter_*.db"))  # the workers' files
    except BaseException:
        print(output()[-8000:])
        raise
