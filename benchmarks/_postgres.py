"""What the PostgreSQL benchmarks share: a psycopg connection string for a SQLAlchemy URL, and a scratch database.

Not a benchmark itself (the leading underscore keeps `tox -e bench` from running it).
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator


def psycopg_dsn(url: str, database: str | None = None) -> str:
    """Return a libpq connection string for ``url`` (``database`` replaces its database name)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    parts = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": database or parsed.database,
    }
    if parsed.password:
        parts["password"] = parsed.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """Create a new database on ``url``'s server, migrate it to the newest schema and yield its URL.

    The database is dropped when the block ends, however it ends, so runs never collide or pile up.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    from eventhive_core.adapters.sqlalchemy import upgrade

    name = f"eventhive_bench_{secrets.token_hex(4)}"
    admin = psycopg_dsn(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"database {name}: migrating", file=sys.stderr)
        scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
        upgrade(scratch)
        yield scratch
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
