"""The PostgreSQL fast path: a reservation's hot statements on psycopg itself, new rows sent with the commit.

A reservation holds the ticket's row lock from its conditional UPDATE until the commit, so the
client's work and the round trips in between set how many buyers of one ticket are served per
second. For the few statements of a reservation SQLAlchemy's per-statement work costs more CPU
than the database does; this module runs them on the driver instead, and owns everything that takes:

- **SQL.** Nothing here is written by hand. Each hot statement is the SQLAlchemy statement the
  portable path runs, compiled once with the connection's dialect; each INSERT is compiled from
  the table's columns, every one of them, so a column added to ``tables.py`` is in the SQL.
- **Decoding.** Rows are read by column name (the cursor's description), through the column
  types' own result processors (``UTCDateTime``), into named tuples the repositories' row mappers
  read as they read SQLAlchemy rows.
- **Batching.** New rows that nothing in the unit reads back (orders, outbox events) are queued
  and sent with the ``COMMIT`` as one batch in one round trip. Any other statement sends the queue
  first, so the unit always reads its own writes, and an insert's error still surfaces inside
  the unit (at the latest from ``commit()``).

:class:`PgFastPathSession` is a drop-in :class:`~eventhive_core.adapters.sqlalchemy.session.SqlSession`:
``SqlAlchemyStorage`` picks it once, for PostgreSQL, unless built with ``fast_path=False``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement

from eventhive_core.adapters.sqlalchemy.session import SqlSession, complete_row

Processor = Callable[[Any], Any]

#: Compiled statements are cached by the statement object; only module constants belong here.
MAX_COMPILED = 64


@dataclass(frozen=True)
class CompiledStatement:
    """A statement compiled for psycopg, with what it takes to bind its values and read its rows.

    Attributes:
        sql: The SQL text, values as ``%(name)s`` placeholders.
        binds: Each placeholder's name and the bind processor of its type (None when psycopg takes the value as is).
        columns: The names of the columns it returns, in order (empty for a statement without rows).
        results: The result processors of the returned columns that need one, by column name.
    """

    sql: str
    binds: tuple[tuple[str, Processor | None], ...]
    columns: tuple[str, ...]
    results: Mapping[str, Processor]

    def bound(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the statement's parameters from ``params``, each through its type's bind processor."""
        return {name: params[name] if proc is None else proc(params[name]) for name, proc in self.binds}


def compile_statement(statement: ClauseElement, dialect: Dialect) -> CompiledStatement:
    """Compile a SQLAlchemy statement for the fast path.

    Raises:
        ValueError: The statement carries a value of its own (a literal, an expanding IN): the
            fast path binds every value by name, from the caller's parameters.
    """
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    binds: list[tuple[str, Processor | None]] = []
    for name, bind in compiled.binds.items():
        if not bind.required or bind.expanding:
            raise ValueError(f"Fast-path statements bind every value by name; {name!r} has one of its own")
        binds.append((name, bind.type.bind_processor(dialect)))
    columns: list[str] = []
    results: dict[str, Processor] = {}
    for column in _returned_columns(statement):
        if column.key is None:
            raise ValueError(f"Fast-path SELECTs name every column; label {column!r}")
        columns.append(column.key)
        processor = column.type.result_processor(dialect, None)
        if processor is not None:
            results[column.key] = processor
    return CompiledStatement(str(compiled), tuple(binds), tuple(columns), results)


def _returned_columns(statement: ClauseElement) -> Iterable[Any]:
    if isinstance(statement, sa.Select):
        return statement.selected_columns
    if isinstance(statement, UpdateBase):
        return statement.exported_columns  # its RETURNING columns
    return ()


def compile_insert(table: sa.Table, dialect: Dialect) -> CompiledStatement:
    """Compile ``INSERT INTO table (every column) VALUES (...)``, each value bound under its column's name."""
    statement = sa.insert(table).values({column: sa.bindparam(column.key, type_=column.type) for column in table.c})
    return compile_statement(statement, dialect)


def _dialect_key(dialect: Dialect) -> tuple[object, ...]:
    # Every engine has its own dialect object; what the SQL depends on is its kind and the server.
    return (type(dialect), dialect.server_version_info)


_compiled: dict[tuple[object, ...], CompiledStatement] = {}


def _compiled_for(statement: ClauseElement, dialect: Dialect) -> CompiledStatement:
    key = (statement, *_dialect_key(dialect))
    found = _compiled.get(key)
    if found is None:
        # Keyed by identity: a statement built per call would compile on every call and fill the cache.
        if len(_compiled) >= MAX_COMPILED:
            raise RuntimeError("The fast path takes prebuilt statements (module constants), not ones built per call")
        found = _compiled[key] = compile_statement(statement, dialect)
    return found


_inserts: dict[tuple[object, ...], CompiledStatement] = {}


def _insert_for(table: sa.Table, dialect: Dialect) -> CompiledStatement:
    key = (table, *_dialect_key(dialect))
    found = _inserts.get(key)
    if found is None:
        found = _inserts[key] = compile_insert(table, dialect)
    return found


def _bound(compiled: CompiledStatement, params: Mapping[str, Any]) -> dict[str, Any]:
    # A value its type refuses (a naive datetime) fails as it would through SQLAlchemy.
    try:
        return compiled.bound(params)
    except (TypeError, ValueError) as error:
        raise exc.StatementError(str(error), compiled.sql, dict(params), error) from error


_row_types: dict[tuple[str, ...], Any] = {}
#: The column names the database returned for each statement's SQL (see PgFastPathSession._run).
_returned_names: dict[str, tuple[str, ...]] = {}


def _row_type(names: tuple[str, ...]) -> Any:
    row_type = _row_types.get(names)
    if row_type is None:
        row_type = _row_types[names] = namedtuple("FastRow", names)
    return row_type


def decode_row(compiled: CompiledStatement, names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """Return a row as a named tuple, read by the names the database gave its columns.

    Raises:
        ValueError: The database returned other columns than the statement names.
    """
    if set(names) != set(compiled.columns):
        raise ValueError(f"Expected columns {compiled.columns}, the database returned {names}")
    row = dict(zip(names, values, strict=True))
    for name, processor in compiled.results.items():
        row[name] = processor(row[name])
    return _row_type(compiled.columns)(**row)


def first_in_autocommit(engine: Engine, statement: sa.Select[Any], params: Mapping[str, Any]) -> Any | None:
    """Run a prebuilt SELECT on a pooled connection in autocommit, on psycopg; return its first row or None.

    One round trip: no ``BEGIN`` before it and no ``ROLLBACK`` after (a lone read needs neither),
    and none of SQLAlchemy's per-connection work. The connection goes back to the pool as it came.

    Raises:
        sqlalchemy.exc.DBAPIError: The database refused or failed, wrapped as SQLAlchemy wraps
            its own (a broken connection is dropped from the pool).
    """
    compiled = _compiled_for(statement, engine.dialect)
    bound = _bound(compiled, params)
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        try:
            driver.autocommit = True
            try:
                with driver.cursor() as cursor:
                    cursor.execute(compiled.sql, bound)
                    names = _returned_names.get(compiled.sql)
                    if names is None:
                        names = _returned_names[compiled.sql] = tuple(c.name for c in cursor.description or ())
                    values = cursor.fetchone()
            finally:
                if not getattr(driver, "broken", False):
                    driver.autocommit = False
        except engine.dialect.loaded_dbapi.Error as error:
            if getattr(driver, "broken", False):
                pooled.invalidate(error)
            raise exc.DBAPIError.instance(compiled.sql, bound, error, engine.dialect.loaded_dbapi.Error) from error
    finally:
        pooled.close()
    return None if values is None else decode_row(compiled, names, values)


class PgFastPathSession(SqlSession):
    """A unit of work's connection on PostgreSQL, with the hot statements on psycopg and inserts batched."""

    path: ClassVar[str] = "postgresql-fast"

    def __init__(self, conn: Connection, stripes: int = 1) -> None:
        if conn.dialect.name != "postgresql":
            raise ValueError(f"The PostgreSQL fast path cannot run on {conn.dialect.name}")
        super().__init__(conn, stripes)
        self._queued: list[tuple[CompiledStatement, dict[str, Any]]] = []

    def execute(
        self, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> CursorResult[Any]:
        """Run any statement through SQLAlchemy, after the queued inserts."""
        if self._queued:
            self._send(commit=False)
        return super().execute(statement, params)

    def first(self, statement: sa.Select[Any] | sa.Insert | sa.Update, params: Mapping[str, Any]) -> Any | None:
        """Run a prebuilt hot SELECT, or statement with RETURNING, on psycopg; return its first row or None."""
        compiled = _compiled_for(statement, self.conn.dialect)
        _, names, rows = self._run(compiled, params, every=False)
        return decode_row(compiled, names, rows[0]) if rows else None

    def all(self, statement: sa.Select[Any] | sa.Insert | sa.Update, params: Mapping[str, Any]) -> list[Any]:
        """Run a prebuilt SELECT, or statement with RETURNING, on psycopg; return every row."""
        compiled = _compiled_for(statement, self.conn.dialect)
        _, names, rows = self._run(compiled, params, every=True)
        return [decode_row(compiled, names, values) for values in rows]

    def rowcount(self, statement: sa.Update, params: Mapping[str, Any]) -> int:
        """Run a prebuilt hot UPDATE on psycopg; return how many rows it changed."""
        rowcount, _, _ = self._run(_compiled_for(statement, self.conn.dialect), params, every=False)
        return rowcount

    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """Queue one new row, naming every column, until the next statement or the commit."""
        compiled = _insert_for(table, self.conn.dialect)
        self._queued.append((compiled, _bound(compiled, complete_row(table, values))))

    def insert_new(self, table: sa.Table, values: Mapping[str, Any], *keys: str, where: Any = None) -> bool:
        """Queue one new row; a duplicate of its unique ``keys`` surfaces from ``commit()`` (see SqlSession)."""
        self.insert(table, values)
        return True

    def commit(self) -> None:
        """Send the queued inserts and commit, in one round trip when anything was queued."""
        if self._queued:
            self._send(commit=True)
        super().commit()

    def rollback(self) -> None:
        """Forget the queued inserts and roll the transaction back."""
        self._queued.clear()
        super().rollback()

    def _run(
        self, compiled: CompiledStatement, params: Mapping[str, Any], *, every: bool
    ) -> tuple[int, tuple[str, ...], list[tuple[Any, ...]]]:
        # Returns the row count, the returned columns' names and the first row (or, with
        # ``every``, all of them): an empty list when there are none.
        if self._queued:
            self._send(commit=False)
        # SQLAlchemy must know a transaction is open, so that its commit and rollback apply.
        if not self.conn.in_transaction():
            self.conn.begin()
        driver = self.conn.connection.driver_connection
        assert driver is not None
        bound = _bound(compiled, params)
        try:
            with driver.cursor() as cursor:
                cursor.execute(compiled.sql, bound)
                if not compiled.columns:
                    return cursor.rowcount, (), []
                # The names the database gives a statement's columns cannot change while its SQL
                # does not: read once per statement, as psycopg builds column objects on every read.
                names = _returned_names.get(compiled.sql)
                if names is None:
                    description = cursor.description or ()
                    names = _returned_names[compiled.sql] = tuple(column.name for column in description)
                if every:
                    return cursor.rowcount, names, cursor.fetchall()
                row = cursor.fetchone()
                return cursor.rowcount, names, [] if row is None else [row]
        except self.conn.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(compiled.sql, bound, error) from error

    def _send(self, *, commit: bool) -> None:
        # One simple-protocol round trip: "INSERT ...; INSERT ...; COMMIT", values bound on the
        # client with psycopg's quoting. An error stops the batch before the COMMIT.
        queued, self._queued = self._queued, []
        statements: list[str] = []
        params: dict[str, Any] = {}
        for n, (compiled, values) in enumerate(queued):
            statements.append(compiled.sql.replace("%(", f"%(q{n}_"))
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
        return exc.DBAPIError.instance(statement, params, error, self.conn.dialect.loaded_dbapi.Error)


__all__ = [
    "MAX_COMPILED",
    "CompiledStatement",
    "PgFastPathSession",
    "compile_insert",
    "compile_statement",
    "decode_row",
    "first_in_autocommit",
]
