"""Engines for the SQL storage: SQLite files in WAL mode, PostgreSQL through psycopg 3.

SQLite: every connection turns on WAL, a 5 s busy timeout and foreign keys, and the driver's
own transaction handling is switched off so that we issue ``BEGIN`` ourselves. A write unit
(execution option :data:`WRITE`) begins ``BEGIN IMMEDIATE``: it takes the write lock up front,
so concurrent writers queue on the busy timeout instead of failing when a reader upgrades.

PostgreSQL: READ COMMITTED (the default), a modest pool with pre-ping, so a restarted server
costs one failed check rather than a failed request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from eventhive_core.domain.errors import ConfigurationError

#: Execution option marking a connection used by a unit of work that may write.
WRITE = "eventhive_write"

#: SQLite waits this long for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 5000

_POSTGRES_DEFAULTS: dict[str, Any] = {
    "pool_size": 10,
    "max_overflow": 10,
    "pool_timeout": 10,
    "pool_pre_ping": False,
    "pool_recycle": 1800,
}


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL, steering plain PostgreSQL URLs to psycopg 3.

    Examples:
        >>> normalize_url("postgresql://u@localhost/db").drivername
        'postgresql+psycopg'
        >>> normalize_url("sqlite:///x.db").drivername
        'sqlite'

    Raises:
        ConfigurationError: The URL is not SQLite or PostgreSQL.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"EVENTHIVE_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, got {parsed.drivername}://..."
        )
    return parsed


def is_sqlite_file(url: str | URL) -> bool:
    """Tell whether a URL names a SQLite database file (the embedded mode).

    Examples:
        >>> is_sqlite_file("sqlite:///data/eventhive.sqlite3"), is_sqlite_file("sqlite://")
        (True, False)
    """
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def create_engine(url: str | URL, **options: Any) -> Engine:
    """Build an engine for EventHive from a URL; ``options`` go to :func:`sqlalchemy.create_engine`.

    Raises:
        ConfigurationError: The URL is neither SQLite nor PostgreSQL.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, options)
    return sa.create_engine(parsed, **{**_POSTGRES_DEFAULTS, **options})


def _sqlite_engine(url: URL, options: Mapping[str, Any]) -> Engine:
    kwargs: dict[str, Any] = dict(options)
    in_memory = not is_sqlite_file(url)
    if in_memory:
        # One shared connection, or every unit would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below (pysqlite would
        # otherwise begin lazily and deferred, which deadlocks writers that upgrade).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL survives process crashes; only power loss can drop the last commits.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "WRITE", "create_engine", "is_sqlite_file", "normalize_url"]
