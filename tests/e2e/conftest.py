"""Start the real ``eventhive serve`` process on a free port and talk to it over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

EVENTHIVE = shutil.which("eventhive", path=os.path.dirname(sys.executable)) or "eventhive"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Browser:
    """One user: keeps the cookie the server sets, like a browser (or curl -c/-b)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=data, headers=sent)
            raw = conn.getresponse()
            payload = raw.read()
            for header in raw.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";")[0]
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return Response(raw.status, dict(raw.headers), json.loads(payload) if payload else None)
        finally:
            conn.close()


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    log: Path

    def browser(self) -> Browser:
        return Browser(self.port)

    @staticmethod
    def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
        """Poll ``predicate`` until it holds or ``timeout`` seconds pass (no fixed sleeps in tests)."""
        return wait_until(predicate, timeout, interval)

    def stop(self) -> int:
        """Ctrl-C the server and return its exit code.

        Like a terminal's Ctrl-C, SIGINT goes to the whole process group (arbiter and workers),
        which is what exposes shutdown races in the workers.
        """
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _healthy(port: int) -> bool:
    try:
        return Browser(port).request("GET", "/api/health").status == 200
    except OSError:
        return False


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(workers=1, data_dir=None, **env)``: run ``eventhive serve`` (a fresh data folder by default)."""
    started: list[Server] = []

    def start(workers: int = 1, data_dir: Path | None = None, **env: str) -> Server:
        port = free_port()
        data_dir = data_dir or tmp_path / f"data-{len(started)}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
        environment.update(UNREACHED_RATE_LIMITS)
        environment.update(env)
        command = [EVENTHIVE, "serve", "--port", str(port), "--workers", str(workers), "--data-dir", str(data_dir)]
        log = (tmp_path / f"serve-{len(started)}.log").open("w")
        # A file, not a pipe: nobody reads the pipe while the test runs, and a full pipe would block the server.
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        log.close()
        server = Server(process, port, data_dir, Path(log.name))
        started.append(server)
        if not wait_until(lambda: _healthy(port) or process.poll() is not None, START_TIMEOUT):
            server.stop()
            pytest.fail(f"eventhive serve did not answer within {START_TIMEOUT} s:\n{server.log.read_text()}")
        if process.poll() is not None:
            pytest.fail(f"eventhive serve exited with {process.returncode}:\n{server.log.read_text()}")
        return server

    yield start
    for server in started:
        server.stop()
