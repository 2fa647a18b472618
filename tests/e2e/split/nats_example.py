"""The five-services example (examples/nats-services) as a fixture: started with its one command, stopped, reset.

``python examples/nats-services/run.py`` creates the databases and the key pair, writes the
front's nginx configuration and honcho's ``.env``, and runs honcho: the five ``eventhive
service`` processes, the client and nginx. ``example(**env)`` gives it free ports, databases and
a NATS prefix of its own; the tests talk to the front's one address only. At the end the fixture
stops honcho as Ctrl-C does and runs ``run.py reset``.

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
) -> Iterator[Callable[..., Example]]:
    """``example(**env)``: start the example with its one command on free ports; stop and reset it afterwards.

    Its services hold orders for 2 s unless ``EVENTHIVE_RESERVATION_TTL`` says otherwise.
    """
    require(NGINX.exists(), f"nginx is not installed at {NGINX} (bash .ci/install-nginx installs it)")
    pytest.importorskip("honcho", reason="honcho is in the test extra: pip install -e '.[all,test]'")
    started: list[Example] = []

    def start(**overrides: str) -> Example:
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
        env["FRONT_INTERNAL_PORT"] = str(free_port())
        env.update(overrides)
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
