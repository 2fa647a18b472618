"""SqlAlchemyStorage: the Storage port over SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from eventhive_core.adapters.sqlalchemy.engine import WRITE, create_engine
from eventhive_core.adapters.sqlalchemy.errors import translated_errors
from eventhive_core.adapters.sqlalchemy.pg_fast_path import PgFastPathSession, first_in_autocommit
from eventhive_core.adapters.sqlalchemy.queries import SqlReadQueries
from eventhive_core.adapters.sqlalchemy.repositories import user_from_row
from eventhive_core.adapters.sqlalchemy.session import SqlSession
from eventhive_core.adapters.sqlalchemy.tables import revoked_tokens, service_role, users
from eventhive_core.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from eventhive_core.domain.errors import ConfigurationError, RoleMismatch
from eventhive_core.ports.storage import TokenStanding

#: Stripes per new ticket on PostgreSQL: enough for a few dozen concurrent buyers of one ticket
#: to rarely wait on each other (benchmarks/reserve_hot_ticket.py), few enough that summing
#: them for a listing stays cheap.
DEFAULT_STRIPES = 16
#: The most stripes a ticket may have.
MAX_STRIPES = 256

# A token's standing in one statement: one row even when the user is not stored here (its
# columns then NULL), so the revocation is read either way.
_ONE_ROW = sa.select(sa.literal_column("1").label("one")).subquery("one_row")
_TOKEN_STANDING = sa.select(
    sa.exists().where(revoked_tokens.c.jti == sa.bindparam("jti")).label("revoked"),
    *users.c,
).select_from(_ONE_ROW.outerjoin(users, users.c.id == sa.bindparam("user_id")))


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
        stripes: How many stripes a new ticket's capacity is split into, so that its buyers
            lock different rows (never more than one per unit). None, the default, is
            :data:`DEFAULT_STRIPES` on PostgreSQL and 1 on SQLite, whose writers take turns anyway.

    Raises:
        ConfigurationError: ``fast_path=True`` or ``stripes`` above 1 on a database other than
            PostgreSQL, or ``stripes`` outside 1 to :data:`MAX_STRIPES`.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        engine_options: Mapping[str, Any] | None = None,
        fast_path: bool | None = None,
        stripes: int | None = None,
    ) -> None:
        if stripes is not None and not 1 <= stripes <= MAX_STRIPES:
            raise ConfigurationError(f"stripes must be from 1 to {MAX_STRIPES}, not {stripes}")
        self.engine: Engine = create_engine(url, **dict(engine_options or {}))
        on_postgres = self.engine.dialect.name == "postgresql"
        if fast_path and not on_postgres:
            self.engine.dispose()
            raise ConfigurationError(f"The fast path needs PostgreSQL, not {self.engine.dialect.name}")
        if stripes is not None and stripes > 1 and not on_postgres:
            self.engine.dispose()
            raise ConfigurationError(
                f"stripes={stripes} needs PostgreSQL: on {self.engine.dialect.name} writers take turns anyway"
            )
        self.stripes = stripes if stripes is not None else DEFAULT_STRIPES if on_postgres else 1
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
        return SqlUnitOfWork(self.engine, self._session_type, self.stripes)

    def token_standing(self, jti: str, user_id: str) -> TokenStanding:
        """Return whether the token ``jti`` was revoked, and the user ``user_id`` (None if not stored).

        One statement outside any unit of work: on PostgreSQL in autocommit, a single round trip
        (no ``BEGIN`` and ``ROLLBACK`` around it); on SQLite a read transaction, not a write one.

        Raises:
            TransientStorageError: The database cannot answer right now.
        """
        params = {"jti": jti, "user_id": user_id}
        with translated_errors():
            if self._session_type is PgFastPathSession:
                row = first_in_autocommit(self.engine, _TOKEN_STANDING, params)
            else:
                options = {"isolation_level": "AUTOCOMMIT"} if self.dialect == "postgresql" else {}
                with self.engine.connect().execution_options(**options) as conn:
                    row = self._session_type(conn, self.stripes).first(_TOKEN_STANDING, params)
        assert row is not None  # the one-row join always returns its row
        return TokenStanding(None if row.id is None else user_from_row(row), bool(row.revoked))

    @property
    def queries(self) -> SqlReadQueries:
        """The read side."""
        return self._queries

    def claim_role(self, role: str | None, now: datetime) -> None:
        """Mark the database as the ``role`` service's, or check that it is (None: the whole platform's).

        The first service to start on an empty database writes its role; from then on any other
        role, or the whole platform, is refused. A database with no mark is any newcomer's.

        Raises:
            RoleMismatch: The database belongs to another service, or (for ``role`` None) to any service.
        """
        # A write transaction from the start: SQLite then waits for a rival claim instead of failing.
        with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            marked = conn.execute(sa.select(service_role.c.role)).scalar()
            if marked is None and role is not None:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(service_role).values(id=1, role=role, claimed_at=now))
                    return
                except sa.exc.IntegrityError:
                    # Another service claimed it at the same instant: judge by its mark.
                    marked = conn.execute(sa.select(service_role.c.role)).scalar()
            if marked != role:
                raise RoleMismatch(str(self.engine.url), marked, role)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlAlchemyStorage({self.engine.url!r}, path={self.path!r}, stripes={self.stripes})"


__all__ = ["DEFAULT_STRIPES", "MAX_STRIPES", "SqlAlchemyStorage"]
