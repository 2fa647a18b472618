"""Fixtures for the Celery tests: real brokers, real ``celery worker`` processes, a Hive on PostgreSQL.

Every test runs on Redis and on RabbitMQ (``broker`` is parametrised). Each gets its own queue
name, and on Redis its own key prefix (``global_keyprefix``), so concurrent runs and tests never
see each other's messages; what a test leaves in a broker is deleted at its end. A missing broker
skips the test with the reason, or fails it under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

HERE = Path(__file__).parent

# worker_app.py builds a Hive when imported: it is for `celery -A`, not for collection (doctests).
collect_ignore = ["worker_app.py"]
REDIS_URL_ENV = "EVENTHIVE_TEST_REDIS_URL"
RABBITMQ_URL_ENV = "EVENTHIVE_TEST_RABBITMQ_URL"
DEFAULT_URLS = {"redis": "redis://127.0.0.1:6379/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}
URL_ENVS = {"redis": REDIS_URL_ENV, "rabbitmq": RABBITMQ_URL_ENV}


def _require_service(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every service must be running)", pytrace=False)
    pytest.skip(reason)


def _load(name: str) -> ModuleType:
    # The test directory is not a package (pytest runs with --import-mode=importlib).
    spec = importlib.util.spec_from_file_location(f"eventhive_celery_tests_{name}", HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = _load("audit_subscribers")


@pytest.fixture(autouse=True)
def _no_outside_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    # CELERY_BROKER_URL wins over the options: one set in the developer's shell must not redirect the tests.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


@dataclass
class Broker:
    """One broker for one test: URL, private queue, transport options (Redis key prefix)."""

    kind: str
    url: str
    queue: str
    transport_options: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The ``EVENTHIVE_SCHEDULER_OPTIONS`` / ``EVENT_BUS_OPTIONS`` for this broker."""
        return {"queue": self.queue, "broker_url": self.url, "transport_options": self.transport_options}

    def cleanup(self) -> None:
        """Delete what the test left in the broker (its queue, its exchange, its Redis keys)."""
        if self.kind == "redis":
            import redis

            client = redis.Redis.from_url(self.url)
            prefix = self.transport_options["global_keyprefix"]
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        else:
            from kombu import Connection

            with Connection(self.url, connect_timeout=3) as conn:
                channel = conn.default_channel
                channel.queue_delete(self.queue)
                channel.exchange_delete(self.queue)


def _probe(kind: str, url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            pass
    except OSError as exc:
        return f"{exc.strerror or exc}"
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def broker_urls() -> dict[str, str | None]:
    """Each broker kind's URL, or None when it cannot be reached (probed once per session)."""
    found: dict[str, str | None] = {}
    for kind, default in DEFAULT_URLS.items():
        url = os.environ.get(URL_ENVS[kind], default)
        problem = _probe(kind, url)
        found[kind] = url if problem is None else None
        if problem is not None:
            found[f"{kind}:problem"] = problem
    return found


def make_broker(kind: str, broker_urls: Mapping[str, str | None], **transport_options: Any) -> Broker:
    """Return a private Broker of ``kind``, or skip (fail under CI) when it is not running."""
    url = broker_urls.get(kind)
    if url is None:
        name = "Redis" if kind == "redis" else "RabbitMQ"
        configured = os.environ.get(URL_ENVS[kind], DEFAULT_URLS[kind])
        _require_service(
            f"{name} not reachable at {configured} ({broker_urls.get(f'{kind}:problem')}); start it or set "
            f"{URL_ENVS[kind]}"
        )
    run = secrets.token_hex(4)
    queue = f"eventhive-test-{run}"
    if kind == "redis":
        transport_options.setdefault("global_keyprefix", f"eventhive-test-{run}:")
    else:
        transport_options = {}
    assert url is not None
    return Broker(kind, url, queue, dict(transport_options))


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, broker_urls: dict[str, str | None]) -> Iterator[Broker]:
    """A private queue on Redis, then on RabbitMQ."""
    made = make_broker(request.param, broker_urls)
    yield made
    made.cleanup()


@dataclass
class Process:
    """A ``celery``/``eventhive`` process started like an operator would, in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def messages(self) -> str:
        """The output with each JSON log line (``eventhive worker`` writes them) reduced to its message."""
        lines = []
        for line in self.output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            lines.append(str(record["message"]) if isinstance(record, dict) and "message" in record else line)
        return "\n".join(lines)

    def wait_for(self, text: str, timeout: float = 30.0, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output()[after:]:
                return
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-4000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not print {text!r} within {timeout} s:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """``kill -9`` the whole process group (the worker and, with --beat, its beat child)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        """Ask for a warm shutdown; kill when it takes too long."""
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


@dataclass
class Deployment:
    """Settings shared by the test's Hive and every process it starts."""

    broker: Broker
    database_url: str
    tmp: Path
    settings: dict[str, Any]
    processes: list[Process] = field(default_factory=list)

    @property
    def audit_log(self) -> Path:
        return self.tmp / "audit.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHIVE_", "CELERY_"))}
        for key, value in self.settings.items():
            env[f"EVENTHIVE_{key.upper()}"] = json.dumps(value) if isinstance(value, dict) else str(value)
        env["CELERY_BROKER_URL"] = self.broker.url
        env[audit.AUDIT_LOG_ENV] = str(self.audit_log)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _process(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.env(), self.tmp / f"{name}.log", HERE).start()
        self.processes.append(process)
        return process

    def celery_worker(self, name: str = "worker", *, ready: bool = True, beat: bool = False) -> Process:
        """``celery -A worker_app worker --pool threads --concurrency 2`` on this test's queue."""
        argv = [sys.executable, "-m", "celery", "-A", "worker_app", "worker", "--pool", "threads", "--concurrency", "2"]
        argv += ["-Q", self.broker.queue, "-n", f"{name}-{self.broker.queue}@%h", "--loglevel", "INFO"]
        argv += ["--without-gossip", "--without-mingle"]
        if beat:
            argv += ["--beat", "--schedule-filename", str(self.tmp / "beat-schedule")]
        process = self._process(name, argv)
        if ready:
            process.wait_for(" ready.", after=0)
        return process

    def eventhive_worker(
        self, name: str = "eventhive-worker", *, beat: bool = True, extra: Sequence[str] = ()
    ) -> Process:
        """``eventhive worker --beat``: the command for deployments without Flask (``extra``: more options)."""
        argv = [
            str(Path(sys.executable).with_name("eventhive")),
            "worker",
            "--hostname",
            f"{name}-{self.broker.queue}@%h",
            *extra,
        ]
        if beat:
            argv += ["--beat", "--schedule-file", str(self.tmp / "beat-schedule")]
        process = self._process(name, argv)
        process.wait_for(" ready.")
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def deploy(broker: Broker, clean_postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Return ``deploy(redis_transport=None, **settings)``: what every process of the test shares.

    ``redis_transport`` adds Redis transport options (ignored on RabbitMQ). Processes started
    through the deployment are stopped after the test.
    """
    made: list[Deployment] = []

    def make(redis_transport: Mapping[str, Any] | None = None, **settings: Any) -> Deployment:
        if redis_transport and broker.kind == "redis":
            broker.transport_options.update(redis_transport)
        base: dict[str, Any] = {
            "storage": "sqlalchemy",
            "database_url": clean_postgres_url,
            "scheduler": "celery",
            "scheduler_options": broker.options(),
            "event_bus": "celery",
            "event_bus_options": broker.options(),
            "jwt_secret": "celery-tests-secret-0123456789abcdef0123456789",
            "reservation_ttl": 2,
            "expiry_grace": 0.2,
            "sweep_interval": 3600,
            "outbox_poll_interval": 0.5,
        }
        base.update(settings)
        deployment = Deployment(broker, clean_postgres_url, tmp_path, base)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop_all()


def hive_for_test(deployment: Deployment) -> Any:
    """The test's own Hive (the "web process"): same settings and plugins as the workers, the system clock."""
    from eventhive_core import HiveSettings, bootstrap
    from eventhive_core.testing.hives import fast_hasher

    return bootstrap(
        HiveSettings(**deployment.settings), plugins=[audit.AuditSubscribers()], password_hasher=fast_hasher()
    )


@pytest.fixture
def make_hive() -> Iterator[Callable[[Deployment], Any]]:
    """Return ``make_hive(deployment)``; every Hive made is closed after the test."""
    hives: list[Any] = []

    def make(deployment: Deployment) -> Any:
        hive = hive_for_test(deployment)
        hives.append(hive)
        return hive

    yield make
    for hive in hives:
        hive.close()


def wait_until(
    condition: Callable[[], Any], timeout: float, *, every: float = 0.1, also: Callable[[], Any] | None = None
) -> Any:
    """Poll ``condition`` until it is truthy (running ``also`` between polls); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if also is not None:
            also()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


class Rows:
    """Read what the workers wrote, straight from the database."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def outbox(self) -> list[dict[str, Any]]:
        from eventhive_core.adapters.sqlalchemy.tables import outbox

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox)).mappings().all()
        out = []
        for row in rows:
            body = json.loads(row["body"])
            out.append({**row, "data": body["data"], "envelope_id": body["id"]})
        return out

    def events_for(self, order_id: str) -> list[dict[str, Any]]:
        """Outbox rows about one order (``order:*`` by ``data.id``, ``expiration:complete`` by ``data.order_id``)."""
        return [r for r in self.outbox() if order_id in (r["data"].get("id"), r["data"].get("order_id"))]

    def processed(self) -> set[tuple[str, str]]:
        from eventhive_core.adapters.sqlalchemy.tables import processed_messages

        with self.engine.connect() as conn:
            return {(r.subscriber, r.message_id) for r in conn.execute(sa.select(processed_messages))}

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def rows(clean_postgres_url: str) -> Iterator[Rows]:
    reader = Rows(clean_postgres_url)
    yield reader
    reader.close()


@dataclass
class Market:
    """A seller with tickets and buyers, made through the test's Hive."""

    hive: Any
    seller: str
    buyers: list[str]

    @classmethod
    def open(cls, hive: Any, buyers: int = 1) -> Market:
        from eventhive_core import SignUp

        seller = hive.handle(SignUp(email=f"seller-{secrets.token_hex(3)}@example.com", password="password1")).user.id
        people = [
            hive.handle(SignUp(email=f"buyer{n}-{secrets.token_hex(3)}@example.com", password="password1")).user.id
            for n in range(buyers)
        ]
        return cls(hive, seller, people)

    def ticket(self, capacity: int = 1) -> str:
        from eventhive_core import CreateTicket

        return str(self.hive.handle(CreateTicket(owner_id=self.seller, title="Gig", price="20", capacity=capacity)).id)

    def order(self, ticket_id: str, buyer: int = 0) -> Any:
        from eventhive_core import PlaceOrder

        return self.hive.handle(PlaceOrder(buyer_id=self.buyers[buyer], ticket_id=ticket_id, quantity=1))


def recorded(hive: Any, order_id: str) -> Any:
    """The order as stored: what an expiry recorded, not what a query settles on read."""
    with hive.uow() as uow:
        order = uow.orders.get(order_id)
    assert order is not None
    return order


def units_held(url: str, ticket_id: str) -> int:
    """The ticket's stored ``held`` counters, summed over its stripes (what lazy expiry does not change)."""
    from eventhive_core.adapters.sqlalchemy.tables import ticket_stripes

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    held = sa.select(sa.func.sum(ticket_stripes.c.held)).where(ticket_stripes.c.ticket_id == ticket_id)
    try:
        with engine.connect() as conn:
            return int(conn.execute(held).scalar_one())
    finally:
        engine.dispose()


def subscribers_of(hive: Any) -> dict[str, list[str]]:
    """Event type → the names of its subscribers in ``hive``."""
    found: dict[str, list[str]] = {}
    for subscription in hive.bus.subscriptions:
        found.setdefault(subscription.event_type, []).append(subscription.name)
    return found


def task_results(*processes: Process, task: str) -> Counter[str]:
    """Count what ``task`` returned across the processes' logs (``'expired'``, ``'already_final'``, ``None``...)."""
    found: Counter[str] = Counter()
    pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.e-]+s: (.*)$", re.MULTILINE)
    for process in processes:
        found.update(match.strip() for match in pattern.findall(process.output()))
    return found


def tasks_received(*processes: Process, task: str) -> int:
    """How many ``task`` messages the processes received (retries and redeliveries included)."""
    pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] received$", re.MULTILINE)
    return sum(len(pattern.findall(process.output())) for process in processes)
