"""What the PostgreSQL benchmarks share: turning a SQLAlchemy URL into a psycopg connection string.

Not a benchmark itself (the leading underscore keeps `tox -e bench` from running it).
"""

from __future__ import annotations


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
