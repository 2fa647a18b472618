"""Fixtures for the NATS bus tests: the machine's JetStream server, a stream of each test's own.

The server is probed once per session at ``EVENTHIVE_TEST_NATS_URL`` (default the local one);
when it is missing the tests skip with the reason, or fail under ``CI=true``. Each test gets a
prefix (and so a stream, subjects and consumers) no other run uses, and its stream is deleted at
the end of the test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).parent
SRC = Path(__file__).parents[3] / "src"
NATS_URL_ENV = "EVENTHIVE_TEST_NATS_URL"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
_RUN = secrets.token_hex(3)

# Without nats-py (no `nats` extra) the test modules cannot even be imported; the nats_url fixture
# reports the missing package (a failure under CI=true) for tests that do get collected.
if importlib.util.find_spec("nats") is None:
    collect_ignore_glob = ["test_*.py"]
_counter = iter(range(1_000_000))


def _require_service(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every service must be running)", pytrace=False)
    pytest.skip(reason)


def run(coroutine: Any) -> Any:
    """Run one nats-py coroutine to completion (the tests' own view of the server).

    In a thread of its own: in a full run another test's session (Playwright's sync API) keeps an
    event loop running in the main thread, where ``asyncio.run`` refuses to start a second one.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _probe(url: str) -> None:
    import nats

    parts = urlsplit(url)
    # A plain socket first: nats-py keeps retrying a refused first connection.
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2):
        pass
    nc = await asyncio.wait_for(nats.connect(url, connect_timeout=2, allow_reconnect=False), 5)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def nats_url() -> str:
    """URL of a reachable NATS server with JetStream (probed once per session)."""
    url = os.environ.get(NATS_URL_ENV, DEFAULT_NATS_URL)
    try:
        import nats  # noqa: F401
    except ImportError:
        _require_service('nats-py is not installed: pip install "eventhive-tickets[nats]"')
    try:
        run(_probe(url))
    except Exception as exc:
        _require_service(f"NATS with JetStream not reachable at {url}; start it or set {NATS_URL_ENV} ({exc!r})")
    return url


async def _delete_stream(url: str, stream: str) -> None:
    import nats
    import nats.js.errors

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def other_sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A second migrated SQLite database: the consuming side's own."""
    path = tmp_path / "consumer.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def nats_prefix(nats_url: str) -> Iterator[str]:
    """A subject prefix of this test alone; its stream is deleted afterwards."""
    prefix = f"ehtest_{_RUN}_{next(_counter)}"
    yield prefix
    run(_delete_stream(nats_url, prefix.upper()))


async def _stream_messages(url: str, stream: str, subject: str) -> list[tuple[int, dict[str, str], bytes]]:
    import nats
    import nats.js.errors

    nc = await nats.connect(url)
    found = []
    try:
        js = nc.jetstream()
        sequence = 1
        while True:
            try:
                raw = await js.get_msg(stream, seq=sequence, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return found
            found.append((raw.seq or 0, dict(raw.headers or {}), raw.data or b""))
            sequence = (raw.seq or 0) + 1
    finally:
        await nc.close()


def stored(nats_url: str, prefix: str, subject: str) -> list[tuple[int, dict[str, str], bytes]]:
    """Return ``(sequence, headers, data)`` of every stored message on ``<prefix>.<subject>``."""
    return list(run(_stream_messages(nats_url, prefix.upper(), f"{prefix}.{subject}")))


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition`` every 50 ms until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class NatsWorker:
    """A process running ``nats_worker.py`` (see there); killed or stopped by the test."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "nats_worker.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"nats worker {self.pid} died (exit code {self.process.wait(10)})")
        return dict(json.loads(line))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.close()
                self.process.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()


@pytest.fixture
def workers() -> Iterator[Callable[..., NatsWorker]]:
    """Return ``start(*args)`` for worker processes; all are stopped (or killed) at the end."""
    started: list[NatsWorker] = []

    def start(*args: str) -> NatsWorker:
        worker = NatsWorker(*args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
