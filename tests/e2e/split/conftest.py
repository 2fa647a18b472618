"""The split platform as real processes: ``eventhive service ROLE`` for each of the five services.

``split()`` gives each service a fresh PostgreSQL database of its own, one EdDSA key pair (auth
holds the private key, the others the public one), and a NATS subject prefix no other test uses,
then starts the services on free ports and waits until each answers its health route. The
returned :class:`Split` sends requests to any of them with one cookie jar per user, kills and
restarts a service, and gives each one's environment and log. At the end every process is
stopped (SIGTERM, then SIGKILL); when the test failed, the tail of each log is printed.

Without PostgreSQL or NATS the tests skip with the reason, and fail under ``CI=true``, as the
fixtures they come from do (``postgres_database_factory`` in tests/conftest.py, ``nats_url`` in
tests/integration/nats/conftest.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_flask.roles import ROLE_ROUTES
from eventhive_flask.testing import UNREACHED_RATE_LIMITS

from ...browser.conftest import check, new_context  # noqa: F401 (the pages' tests)
from ...integration.nats.conftest import nats_prefix, nats_url  # noqa: F401 (fixtures this directory uses)
from ..conftest import EVENTHIVE, Browser, Response, free_port, wait_until
from .nats_example import example  # noqa: F401 (the example's tests)

ROLES: tuple[str, ...] = ("auth", "tickets", "orders", "payments", "expiration")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 60

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so the fixture's teardown knows whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def owner_of(path: str) -> str:
    """Return the service that owns an API path (``/api/tickets/1?x``: tickets), as the original's ingress routed."""
    route = path.split("?")[0].removeprefix("/api")
    for role, owned in ROLE_ROUTES.items():
        if any(route == own or route.startswith(own + "/") for own in owned):
            return role
    raise ValueError(f"no single service owns {path}; send it to one with browser.on(role)")


@dataclass
class SplitBrowser:
    """One user of the split: one cookie jar for every service, as a browser keeps one per host (not per port).

    ``request`` sends a path to the service that owns it; ``on(role)`` talks to one service.
    """

    ports: Mapping[str, int]
    cookies: dict[str, str] = field(default_factory=dict)

    def on(self, role: str) -> Browser:
        """A client of ``role``'s port sharing this user's cookies."""
        return Browser(self.ports[role], self.cookies)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        """Send a request to the service that owns ``path``."""
        return self.on(owner_of(path)).request(method, path, body, headers)


@dataclass
class Service:
    """One service's process, port, database and log."""

    role: str
    port: int
    env: dict[str, str]
    log: Path
    data_dir: Path
    process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        return [EVENTHIVE, "service", self.role, "--port", str(self.port), "--data-dir", str(self.data_dir)]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        # The arbiter and its workers share the process group (start_new_session): a crash takes
        # them all, and a stop must too, or a worker would keep the port.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self) -> int | None:
        """SIGTERM the service, SIGKILL it if it has not left within STOP_TIMEOUT; return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT)
        return self.process.returncode

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _healthy(port: int) -> bool:
    try:
        return Browser(port).request("GET", "/api/health").status == 200
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


class Split:
    """The five services of a split, each a real ``eventhive service`` process.

    Attributes:
        ports: The port each service listens on (the same across restarts).
        services: Each service's process, environment and log.
    """

    def __init__(self, services: dict[str, Service], database: Callable[[str], str]) -> None:
        self.services = services
        self.ports: dict[str, int] = {role: service.port for role, service in services.items()}
        self._database = database

    def url(self, role: str) -> str:
        """The root address of ``role`` (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.ports[role]}"

    def browser(self) -> SplitBrowser:
        """A new user with an empty cookie jar shared by every service."""
        return SplitBrowser(self.ports)

    def env(self, role: str) -> dict[str, str]:
        """The environment ``role`` runs with (a copy), its database URL included."""
        service = self.services[role]
        return {**service.env, "EVENTHIVE_DATABASE_URL": self._database(role)}

    def log(self, role: str) -> Path:
        """``role``'s log file (stdout and stderr, every run of it appended)."""
        return self.services[role].log

    def database_url(self, role: str) -> str:
        """``role``'s PostgreSQL database."""
        return self._database(role)

    def start(self, role: str) -> None:
        """Start ``role`` (again: same port, database and log) and wait until it answers its health route."""
        service = self.services[role]
        if service.running():
            raise RuntimeError(f"the {role} service is running already")
        # A killed service's port is free once its last process is gone.
        if not wait_until(lambda: _port_free(service.port), STOP_TIMEOUT):
            pytest.fail(f"port {service.port} of the {role} service is still taken")
        self._spawn(service)
        self._wait_healthy(service)

    def start_all(self, roles: tuple[str, ...]) -> None:
        """Start ``roles`` at once and wait until every one answers."""
        for role in roles:
            self._spawn(self.services[role])
        for role in roles:
            self._wait_healthy(self.services[role])

    def kill(self, role: str) -> None:
        """SIGKILL ``role``'s processes (arbiter and workers), as a crash or an OOM kill would."""
        service = self.services[role]
        service.signal_group(signal.SIGKILL)
        if service.process is not None:
            service.process.wait(timeout=STOP_TIMEOUT)

    def stop_all(self) -> None:
        """Stop every service still running (SIGTERM, then SIGKILL)."""
        for service in self.services.values():
            service.stop()

    def tails(self) -> str:
        """The end of every service's log, one section each."""
        return "\n".join(
            f"----- {role} (port {service.port}, exit {service.process.returncode if service.process else '-'}) "
            f"{service.log} -----\n{service.tail()}"
            for role, service in self.services.items()
            if service.process is not None
        )

    def _spawn(self, service: Service) -> None:
        with service.log.open("a") as log:
            # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the server.
            service.process = subprocess.Popen(
                service.command(),
                env=self.env(service.role),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

    def _wait_healthy(self, service: Service) -> None:
        process = service.process
        assert process is not None
        if not wait_until(lambda: _healthy(service.port) or process.poll() is not None, START_TIMEOUT):
            pytest.fail(f"the {service.role} service did not answer within {START_TIMEOUT:g} s:\n{service.tail()}")
        if process.poll() is not None:
            pytest.fail(f"the {service.role} service exited with {process.returncode}:\n{service.tail()}")


@pytest.fixture(scope="session")
def split_key_pair() -> tuple[str, str]:
    """The split's EdDSA key pair (private, public), PEM; one per session is enough."""
    return generate_ed25519_keypair()


@pytest.fixture
def split(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_database_factory: Callable[[], str],
    nats_url: str,  # noqa: F811 (the fixture imported above)
    nats_prefix: str,  # noqa: F811
    split_key_pair: tuple[str, str],
) -> Iterator[Callable[..., Split]]:
    """``split(roles=ROLES, common=None, **per_role)``: start the services; each test calls it once.

    Args (of the returned callable):
        roles: The services to start now (the others can be started later with ``start``).
        common: Extra environment for every service.
        per_role: Extra environment for one service, e.g. ``orders={"EVENTHIVE_SWEEP_INTERVAL": "3600"}``;
            it wins over ``common`` and over the harness's own settings.
    """
    private_key, public_key = split_key_pair
    databases: dict[str, str] = {}
    built: list[Split] = []

    def database(role: str) -> str:
        if role not in databases:
            databases[role] = postgres_database_factory()
        return databases[role]

    def start(
        *, roles: tuple[str, ...] = ROLES, common: Mapping[str, str] | None = None, **per_role: Mapping[str, str]
    ) -> Split:
        if built:
            raise RuntimeError("split() starts the services once per test; use start(role) for one more")
        unknown = set(per_role) - set(ROLES)
        if unknown:
            raise TypeError(f"no service named {', '.join(sorted(unknown))}; the services are {', '.join(ROLES)}")
        base = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")}
        base.update(UNREACHED_RATE_LIMITS)
        base.update(
            {
                "EVENTHIVE_EVENT_BUS": "nats",
                "EVENTHIVE_NATS_URL": nats_url,
                "EVENTHIVE_NATS_PREFIX": nats_prefix,
                "EVENTHIVE_DENYLIST": "memory",
                # The relay publishes within a moment, so events cross the services quickly.
                "EVENTHIVE_OUTBOX_POLL_INTERVAL": "0.2",
            }
        )
        base.update(common or {})
        services: dict[str, Service] = {}
        for role in ROLES:
            key = (
                {"EVENTHIVE_JWT_PRIVATE_KEY": private_key}
                if role == "auth"
                else {"EVENTHIVE_JWT_PUBLIC_KEY": public_key}
            )
            env = {**base, **key, **per_role.get(role, {})}
            services[role] = Service(role, free_port(), env, tmp_path / f"{role}.log", tmp_path / f"{role}-data")
        started = Split(services, database)
        built.append(started)
        started.start_all(roles)
        return started

    yield start
    for started in built:
        started.stop_all()
        reports = request.node.stash.get(_REPORTS, {})
        if any(report.failed for report in reports.values()):
            print(f"\nThe services' logs (last {LOG_TAIL_LINES} lines each):\n{started.tails()}")
