"""The connection a unit of work runs on, with INSERTs that ride along with the commit on PostgreSQL.

A reservation holds the ticket's row lock from its conditional UPDATE until the commit, so every
network round trip after the UPDATE stretches the time the hottest row stays locked. On
PostgreSQL, inserts of new rows that nothing in the unit reads back (orders, outbox events) are
therefore queued and sent with the COMMIT as one batch, in one round trip.
Any other statement sends the queue first, so the unit always reads its own writes, and an
insert's error still surfaces inside the unit (at the latest from ``commit()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql.base import Executable

from eventhive_core.adapters.sqlalchemy.tables import UTCDateTime


@cache
def _insert_sql(table: sa.Table, columns: tuple[str, ...]) -> str:
    names = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f"%({name})s" for name in columns)
    # Names come from our own table metadata, never from input; values are bound parameters.
    return f'INSERT INTO "{table.name}" ({names}) VALUES ({values})'  # noqa: S608


class SqlSession:
    """One connection inside one unit of work.

    Attributes:
        conn: The SQLAlchemy connection (its transaction begins with the first statement).
        is_postgres: Whether the database is PostgreSQL (queued inserts, row locks, SKIP LOCKED).
        tickets_read: Tickets read in this transaction, by id (see ``SqlTicketRepository.get``).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_postgres = conn.dialect.name == "postgresql"
        self.tickets_read: dict[str, Any] = {}
        #: Rows changed by the last ``fetch_raw`` statement.
        self.rowcount = -1
        self._queued: list[tuple[str, dict[str, Any]]] = []

    def execute(self, statement: Executable, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        """Run a statement after the queued inserts."""
        if self._queued:
            self._send(commit=False)
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """Insert one row: queued until the next statement or the commit on PostgreSQL, at once elsewhere."""
        if not self.is_postgres:
            self.execute(sa.insert(table).values(**values))
            return
        bound = dict(values)
        for name, value in values.items():
            column_type = table.c[name].type
            if isinstance(column_type, UTCDateTime):
                bound[name] = column_type.process_bind_param(value, self.conn.dialect)
        self._queued.append((_insert_sql(table, tuple(values)), bound))

    def fetch_raw(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run one hot statement straight on the psycopg connection; return its first row, if any.

        For the few statements of a reservation that run while the ticket row is locked, or
        just before, SQLAlchemy's per-statement work costs more CPU than the database does.
        Only for PostgreSQL; the statement text must come from this package.
        """
        if self._queued:
            self._send(commit=False)
        # Ensure SQLAlchemy knows a transaction is open, so its commit and rollback apply.
        if not self.conn.in_transaction():
            self.conn.begin()
        driver = self.conn.connection.driver_connection
        assert driver is not None
        dbapi_error = self.conn.dialect.loaded_dbapi.Error
        try:
            with driver.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone() if cursor.description is not None else None
                self.rowcount = cursor.rowcount
        except dbapi_error as error:
            raise self._wrapped(sql, params, error) from error
        return tuple(row) if row is not None else None

    def commit(self) -> None:
        """Send the queued inserts and commit, in one round trip when anything was queued."""
        if self._queued:
            self._send(commit=True)
        self.conn.commit()
        self.tickets_read.clear()

    def rollback(self) -> None:
        """Forget the queued inserts and roll the transaction back."""
        self._queued.clear()
        self.tickets_read.clear()
        self.conn.rollback()

    def _send(self, *, commit: bool) -> None:
        # One simple-protocol round trip: "INSERT ...; INSERT ...; COMMIT", values bound on the
        # client with psycopg's quoting. An error stops the batch before the COMMIT.
        queued, self._queued = self._queued, []
        statements: list[str] = []
        params: dict[str, Any] = {}
        for n, (sql, values) in enumerate(queued):
            statements.append(sql.replace("%(", f"%(q{n}_"))
            params.update({f"q{n}_{name}": value for name, value in values.items()})
        if commit:
            # The SQLAlchemy commit that follows finds no transaction left and sends nothing.
            statements.append("COMMIT")
        batch = ";\n".join(statements)
        from psycopg import ClientCursor  # the only PostgreSQL driver we support

        driver = self.conn.connection.driver_connection
        assert driver is not None
        try:
            with ClientCursor(driver) as cursor:
                cursor.execute(batch, params)
        except self.conn.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(batch, params, error) from error

    def _wrapped(self, statement: str, params: Mapping[str, Any], error: Exception) -> exc.StatementError:
        # Wrapped as SQLAlchemy would, so callers see one family of errors; a connection that
        # broke on the way is dropped from the pool, as SQLAlchemy does for its own statements.
        driver = self.conn.connection.driver_connection
        if driver is not None and getattr(driver, "broken", False):
            self.conn.invalidate(error)
        wrapped = exc.DBAPIError.instance(statement, params, error, self.conn.dialect.loaded_dbapi.Error)
        return wrapped


__all__ = ["SqlSession"]
