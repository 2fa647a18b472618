"""Browser tests: Debian's Chromium driven by Playwright against a real ``eventhive serve``.

Playwright's own browser download cannot work here, so the tests launch the system Chromium at
``/usr/bin/chromium`` (``.ci/install-browser`` installs it with apt-get when it is missing) and
``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`` keeps Playwright from trying. Without Chromium or
Playwright the browser tests skip with the reason, except under ``CI=true``, where they fail.

Each test that looks at a page goes through :meth:`PageCheck.look`: a full-page screenshot under
``artifacts/screenshots/``, axe-core with no serious or critical violation, and no sideways
scrolling (the page fits the phone it is shown on). The ``playwright`` and ``browser`` fixtures
live in tests/conftest.py: one Playwright per test process serves every directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eventhive_flask.testing import UNREACHED_RATE_LIMITS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
EVENTHIVE = shutil.which("eventhive", path=os.path.dirname(sys.executable)) or "eventhive"
START_TIMEOUT = 30.0
#: axe-core impacts that fail a page.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
#: A phone's screen (CSS pixels), for the buyer.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``eventhive serve`` with its own data folder."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, method: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        """Call the JSON API with a Bearer token (setup that no test looks at)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(folder: Path, **env: str) -> Server:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
    environment.update(UNREACHED_RATE_LIMITS)
    environment.update(env)
    command = [EVENTHIVE, "serve", "--port", str(port), "--workers", "1", "--data-dir", str(folder / "data")]
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        # A file, not a pipe: nobody reads a pipe while the tests run, and a full one blocks the server.
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    if not wait_until(lambda: server.healthy() or process.poll() is not None, START_TIMEOUT) or process.poll():
        server.stop()
        pytest.fail(f"eventhive serve did not start:\n{log_path.read_text()}")
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, playwright: Any) -> Iterator[Server]:
    """The platform on its defaults (a 60-second payment window)."""
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def serve_with(tmp_path_factory: pytest.TempPathFactory, playwright: Any) -> Iterator[Callable[..., Server]]:
    """``serve_with(**env)``: start another platform with these ``EVENTHIVE_*`` settings (stopped at the end)."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        started.append(start_server(tmp_path_factory.mktemp("serve-with"), **env))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def short_ttl_server(tmp_path_factory: pytest.TempPathFactory, playwright: Any) -> Iterator[Server]:
    """The platform with a 2-second payment window, for expiry."""
    running = start_server(tmp_path_factory.mktemp("serve-ttl"), EVENTHIVE_RESERVATION_TTL="2")
    yield running
    running.stop()


class PageCheck:
    """Looks at a page the way the acceptance asks: screenshot, axe-core, fits its screen.

    axe-core and the width check run scripts, which a JavaScript-free profile cannot; for such a
    page they run on a twin: the same HTML at the same URL and screen size, in a profile with
    JavaScript on.
    """

    def __init__(self, browser: Any, prefix: str) -> None:
        self.browser = browser
        self.prefix = prefix
        self.options: dict[int, dict[str, Any]] = {}
        self.opened: list[Any] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def context(self, *, phone: bool = False, javascript: bool = True) -> Any:
        """Return a fresh browser profile (own cookies), closed after the test."""
        options: dict[str, Any] = {"viewport": PHONE if phone else DESKTOP}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        context = self.browser.new_context(java_script_enabled=javascript, **options)
        context.set_default_timeout(10_000)
        self.opened.append(context)
        if not javascript:
            self.options[id(context)] = options
        return context

    def look(self, page: Any, name: str) -> None:
        """Screenshot the page, then fail on serious axe-core findings or sideways scrolling."""
        from axe_playwright_python.sync_playwright import Axe

        page.wait_for_load_state("load")
        page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{name}.png"), full_page=True)
        scripted = self._twin(page) if id(page.context) in self.options else page
        violations = Axe().run(scripted).response["violations"]
        blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
        assert not blocking, f"axe-core on {name} ({page.url}):\n" + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in blocking
        )
        overflow = scripted.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {page.viewport_size}"

    def _twin(self, page: Any) -> Any:
        html, url = page.content(), page.url
        context = self.browser.new_context(**self.options[id(page.context)])
        self.opened.append(context)
        twin = context.new_page()
        twin.route(lambda address: address == url, lambda route: route.fulfill(body=html, content_type="text/html"))
        twin.goto(url)
        return twin

    def close(self) -> None:
        for context in self.opened:
            context.close()


@pytest.fixture
def check(browser: Any, request: pytest.FixtureRequest) -> Iterator[PageCheck]:
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_")).strip("-")
    checker = PageCheck(browser, name[:60])
    yield checker
    checker.close()


@pytest.fixture
def new_context(check: PageCheck) -> Callable[..., Any]:
    """``new_context(phone=False, javascript=True)``: a fresh browser profile (own cookies), closed after."""
    return check.context
