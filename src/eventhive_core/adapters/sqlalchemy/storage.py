"""SqlAlchemyStorage: the Storage port over SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL, Engine

from eventhive_core.adapters.sqlalchemy.engine import create_engine
from eventhive_core.adapters.sqlalchemy.pg_fast_path import PgFastPathSession
from eventhive_core.adapters.sqlalchemy.queries import SqlReadQueries
from eventhive_core.adapters.sqlalchemy.session import SqlSession
from eventhive_core.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from eventhive_core.domain.errors import ConfigurationError


class SqlAlchemyStorage:
    """Storage on a SQL database: one engine, a unit of work per transaction, a read side.

    The schema must exist (see :func:`eventhive_core.adapters.sqlalchemy.schema.upgrade`); the
    ``sqlalchemy`` storage plugin applies migrations to SQLite files and checks PostgreSQL.

    Args:
        url: ``sqlite:///path/to/file.sqlite3`` or ``postgresql+psycopg://user@host/db``.
        engine_options: Extra keyword arguments for :func:`sqlalchemy.create_engine` (pool sizes...).
        fast_path: Whether units of work take the PostgreSQL fast path (``pg_fast_path.py``)
            rather than the portable one. None, the default, takes it on PostgreSQL. The portable
            path behaves the same, only slower; tests run the storage contract on both.

    Raises:
        ConfigurationError: ``fast_path=True`` on a database other than PostgreSQL.
    """

    def __init__(
        self, url: str | URL, *, engine_options: Mapping[str, Any] | None = None, fast_path: bool | None = None
    ) -> None:
        self.engine: Engine = create_engine(url, **dict(engine_options or {}))
        on_postgres = self.engine.dialect.name == "postgresql"
        if fast_path and not on_postgres:
            self.engine.dispose()
            raise ConfigurationError(f"The fast path needs PostgreSQL, not {self.engine.dialect.name}")
        # Chosen once for every unit of work: the repositories never ask which database they run on.
        self._session_type: type[SqlSession] = (
            PgFastPathSession if (on_postgres if fast_path is None else fast_path) else SqlSession
        )
        self._queries = SqlReadQueries(self.engine)

    @property
    def path(self) -> str:
        """The path units of work take: ``portable`` or ``postgresql-fast``."""
        return self._session_type.path

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
        return SqlUnitOfWork(self.engine, self._session_type)

    @property
    def queries(self) -> SqlReadQueries:
        """The read side."""
        return self._queries

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlAlchemyStorage({self.engine.url!r}, path={self.path!r})"


__all__ = ["SqlAlchemyStorage"]
