"""SqlAlchemyStorage: the Storage port over SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL, Engine

from eventhive_core.adapters.sqlalchemy.engine import create_engine
from eventhive_core.adapters.sqlalchemy.queries import SqlReadQueries
from eventhive_core.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork


class SqlAlchemyStorage:
    """Storage on a SQL database: one engine, a unit of work per transaction, a read side.

    The schema must exist (see :func:`eventhive_core.adapters.sqlalchemy.schema.upgrade`); the
    ``sqlalchemy`` storage plugin applies migrations to SQLite files and checks PostgreSQL.

    Args:
        url: ``sqlite:///path/to/file.sqlite3`` or ``postgresql+psycopg://user@host/db``.
        engine_options: Extra keyword arguments for :func:`sqlalchemy.create_engine` (pool sizes...).
    """

    def __init__(self, url: str | URL, *, engine_options: Mapping[str, Any] | None = None) -> None:
        self.engine: Engine = create_engine(url, **dict(engine_options or {}))
        self._queries = SqlReadQueries(self.engine)

    @property
    def url(self) -> URL:
        """The database URL (password hidden when printed)."""
        return self.engine.url

    @property
    def dialect(self) -> str:
        """The database kind: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def unit_of_work(self) -> SqlUnitOfWork:
        """Return a new, not yet entered, unit of work."""
        return SqlUnitOfWork(self.engine)

    @property
    def queries(self) -> SqlReadQueries:
        """The read side."""
        return self._queries

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlAlchemyStorage({self.engine.url!r})"


__all__ = ["SqlAlchemyStorage"]
