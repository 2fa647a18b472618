"""Shared fixtures: service probes, a private PostgreSQL database per test session, a Redis key prefix per test.

PostgreSQL is probed once per session at ``EVENTHIVE_TEST_PG_URL`` (default: the local server).
When it is missing, tests that need it skip with the reason, except under ``CI=true``, where they
fail: CI must never pass by skipping. Each session creates its own ``eventhive_test_<random>``
databases and drops them at the end, so concurrent runs never collide.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .private_servers import PrivateNats, PrivatePostgres, PrivateRedis, postgres_bin

PG_URL_ENV = "EVENTHIVE_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def require_service(reason: str) -> None:
    """Skip the test for a missing service, or fail it when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every service must be running)", pytrace=False)
    pytest.skip(reason)


def _admin_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname=parsed.database or "postgres",
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of a reachable PostgreSQL server's maintenance database (probed once per session)."""
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    hint = f"PostgreSQL not reachable at {url}; start it or set {PG_URL_ENV}"
    try:
        import psycopg
    except ImportError:
        require_service(f'{hint} (psycopg is not installed: pip install "eventhive-tickets[postgres]")')
    try:
        with _admin_connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        require_service(f"{hint} ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})")
    return url


@pytest.fixture(scope="session")
def postgres_database_factory(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """Return ``make()`` creating a new, empty database for this session; all are dropped at its end."""
    from sqlalchemy.engine import make_url

    session = secrets.token_hex(4)
    created: list[str] = []

    def make() -> str:
        name = f"eventhive_test_{session}_{len(created)}"
        with _admin_connect(postgres_server_url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with _admin_connect(postgres_server_url) as conn:
        for name in created:
            # FORCE: a test that killed a process may leave its connection behind.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """URL of this session's PostgreSQL database, migrated to the newest schema."""
    from eventhive_core.adapters.sqlalchemy import upgrade

    url = postgres_database_factory()
    upgrade(url)
    return url


def wipe_tables(url: str) -> None:
    """Delete every row of EventHive's tables (children first): a clean state in milliseconds."""
    import sqlalchemy as sa

    from eventhive_core.adapters.sqlalchemy.tables import metadata

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture
def clean_postgres_url(postgres_url: str) -> str:
    """The session's migrated PostgreSQL database, emptied for this test."""
    wipe_tables(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eventhive_core.adapters.sqlalchemy import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "eventhive.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh SQLite file for this test, already migrated (a copy of a template)."""
    path = tmp_path / "eventhive.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


# --- Redis -------------------------------------------------------------------------------------

REDIS_URL_ENV = "EVENTHIVE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """URL of a reachable Redis server (probed once per session); skips, or fails under CI=true, without one."""
    url = os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    hint = f"Redis not reachable at {url}; start it or set {REDIS_URL_ENV}"
    try:
        import redis
    except ImportError:
        require_service(f'{hint} (the redis client is not installed: pip install "eventhive-tickets[server]")')
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_service(f"{hint} ({type(exc).__name__}: {exc})")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_key_prefix(redis_server_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the Redis server; its keys are deleted at the end."""
    import redis

    prefix = f"eventhive-test-{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(redis_server_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- servers a test owns (and may stop) -------------------------------------------------------
# The machine's shared servers are never stopped; these are started for one test (tests/private_servers.py).


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own, on a free port: ``.url()``, ``.stop()``, ``.start()``."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        require_service("PostgreSQL's initdb and pg_ctl are not installed (set EVENTHIVE_TEST_PG_BIN to their folder)")
    server = PrivatePostgres(bin_dir)
    yield server
    server.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of this test's own (with a password), on a free port: ``.url``, ``.stop()``, ``.start()``."""
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(binary)
    yield server
    server.close()


@pytest.fixture
def private_nats() -> Iterator[PrivateNats]:
    """A NATS server with JetStream of this test's own, on a free port: ``.url``, ``.stop()``, ``.start()``."""
    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if binary is None:
        require_service("nats-server is not installed (https://github.com/nats-io/nats-server/releases)")
    server = PrivateNats(binary)
    yield server
    server.close()


# --- Stripe ------------------------------------------------------------------------------------


@pytest.fixture
def stripe_stand_in():  # type: ignore[no-untyped-def]
    """A stateful Stripe API on loopback (the project's own stand-in), for the real SDK to talk to."""
    from eventhive_core.testing.stripe_stand_in import StripeStandIn

    with StripeStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def stripe_gateway(stripe_stand_in):  # type: ignore[no-untyped-def]
    """The ``stripe`` provider pointed at the stand-in, with the SDK's own retries off so lost answers show."""
    pytest.importorskip("stripe", reason='needs the stripe extra: pip install -e ".[stripe]"')
    from eventhive_core.adapters.stripe_gateway import StripeGateway

    return StripeGateway(
        secret_key=stripe_stand_in.api_key,
        webhook_secret=stripe_stand_in.webhook_secret,
        api_base=stripe_stand_in.url,
        max_network_retries=0,
    )


# --- the browser (tests/browser, and the split's pages in tests/e2e/split) ----------------------------
# One Playwright per test process: its sync API cannot start twice, so the fixtures live here,
# shared by every directory that drives Chromium.

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

#: Debian's Chromium; EVENTHIVE_TEST_CHROMIUM points elsewhere (or at nothing, to see the skip).
CHROMIUM = Path(os.environ.get("EVENTHIVE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser(reason: str) -> None:
    """Skip for a missing browser or library, or fail when ``CI=true`` (CI never passes by skipping)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        require_browser(f"Chromium is not installed at {CHROMIUM} (bash .ci/install-browser installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_browser('Playwright is not installed (pip install -e ".[test]")')
    manager = sync_playwright().start()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()
