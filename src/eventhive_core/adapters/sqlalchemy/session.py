"""The connection a unit of work runs on, and the portable path its repositories' statements take.

Repositories never ask which database they talk to. They hand their statements to the session:
``execute`` for any statement, ``first`` and ``rowcount`` for the few prebuilt hot statements of
a reservation, ``insert`` and ``insert_new`` for new rows. :class:`SqlSession` runs all of them
through SQLAlchemy, on SQLite and (when asked) on PostgreSQL. Its subclass
:class:`~eventhive_core.adapters.sqlalchemy.pg_fast_path.PgFastPathSession` runs the hot ones
straight on psycopg and sends new rows with the commit. The storage chooses one of the two once,
when it is built (``SqlAlchemyStorage(fast_path=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql.base import Executable

#: ``INSERT`` constructs that know ``ON CONFLICT``, by dialect name: SQLAlchemy has no portable one.
_CONFLICT_AWARE_INSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class IncompleteRow(ValueError):
    """Raised when a new row does not name every column of its table, or names one it lacks."""


@cache
def _column_keys(table: sa.Table) -> frozenset[str]:
    return frozenset(table.c.keys())


def complete_row(table: sa.Table, values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``values`` if they name exactly the columns of ``table``; else raise IncompleteRow.

    New rows name every column, defaults included, so a column added to ``tables.py`` fails every
    insert of its table on every path until the repository writes it, instead of being left to a
    server default on one path and forgotten on another.
    """
    keys = _column_keys(table)
    if values.keys() != keys:
        missing, unknown = sorted(keys - values.keys()), sorted(values.keys() - keys)
        raise IncompleteRow(f"A new {table.name} row must name every column: missing {missing}, unknown {unknown}")
    return values


class SqlSession:
    """One connection inside one unit of work, every statement through SQLAlchemy (the portable path).

    Attributes:
        path: Which path this session takes: ``"portable"`` here, ``"postgresql-fast"`` for the fast path.
        conn: The SQLAlchemy connection (its transaction begins with the first statement).
        stripes: How many stripes a new ticket's capacity is split into (at most one per unit).
        writes_in_cte: Whether the database runs an UPDATE inside a WITH clause (PostgreSQL does,
            SQLite does not); the reservation takes and reports its stripe in one statement there.
        tickets_read: Tickets read in this transaction, by id, None for one its reservation
            found missing (see ``SqlTicketRepository.get``).
        reserved: Stripes whose units this transaction reserved and no order has claimed yet, by
            ticket id (``SqlTicketRepository.reserve`` adds, ``SqlOrderRepository.add`` takes).
    """

    path: ClassVar[str] = "portable"

    def __init__(self, conn: Connection, stripes: int = 1) -> None:
        self.conn = conn
        self.stripes = stripes
        self.writes_in_cte = conn.dialect.name == "postgresql"
        self.tickets_read: dict[str, Any] = {}
        self.reserved: dict[str, list[int]] = {}
        self._conflict_aware_insert = _CONFLICT_AWARE_INSERTS[conn.dialect.name]

    def execute(
        self, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> CursorResult[Any]:
        """Run any statement, once or (``params`` a list) for each set of values; return SQLAlchemy's result."""
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    def first(self, statement: sa.Select[Any] | sa.Insert | sa.Update, params: Mapping[str, Any]) -> Any | None:
        """Run a prebuilt hot SELECT, or statement with RETURNING (values bound by name); return its first row or None.

        The row gives its columns as attributes, by name, whichever path ran it.
        """
        return self.execute(statement, params).first()

    def all(self, statement: sa.Select[Any] | sa.Insert | sa.Update, params: Mapping[str, Any]) -> list[Any]:
        """Run a prebuilt SELECT, or statement with RETURNING (values bound by name); return every row.

        The rows give their columns as attributes, by name, whichever path ran them.
        """
        return list(self.execute(statement, params))

    def rowcount(self, statement: sa.Update, params: Mapping[str, Any]) -> int:
        """Run a prebuilt hot UPDATE (a module constant, values bound by name); return how many rows it changed."""
        return self.execute(statement, params).rowcount

    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """Insert one new row naming every column of ``table`` (see :func:`complete_row`)."""
        self.execute(sa.insert(table).values(**complete_row(table, values)))

    def insert_new(self, table: sa.Table, values: Mapping[str, Any], *keys: str, where: Any = None) -> bool:
        """Insert one new row unless one with the same unique ``keys`` exists; return whether it did.

        On the portable path a duplicate is known at once and nothing is inserted. The fast path
        sends the row with the commit: it returns True, and a duplicate surfaces from ``commit()``
        as the unique index's violation (``errors.RACE_INDEXES`` names the indexes that mean a race).
        """
        return insert_ignoring_conflicts(self, table, complete_row(table, values), *keys, where=where)

    def conflict_aware_insert(self, table: sa.Table) -> Any:
        """Return the dialect's ``INSERT`` construct for ``table``, which has ``on_conflict_do_*``."""
        return self._conflict_aware_insert(table)

    def commit(self) -> None:
        """Commit the unit's transaction."""
        self.conn.commit()
        self.tickets_read.clear()
        self.reserved.clear()

    def rollback(self) -> None:
        """Roll the unit's transaction back."""
        self.tickets_read.clear()
        self.reserved.clear()
        self.conn.rollback()


def insert_ignoring_conflicts(
    session: SqlSession,
    table: sa.Table,
    values: Mapping[str, Any],
    *keys: str,
    where: sa.ColumnElement[bool] | None = None,
) -> bool:
    """Insert a row naming every column unless one with the same ``keys`` exists; return whether it inserted.

    ``INSERT ... ON CONFLICT DO NOTHING`` keeps the transaction usable (a caught unique
    violation would abort it on PostgreSQL) and waits for a concurrent inserter to finish.
    ``where`` names a partial unique index by its predicate (a module constant). The statement
    is built once per table and keys, every value bound by its column's name, so a hot caller
    (each delivered event records its id here) pays neither building nor compiling it again, and
    the fast path runs it on the driver.

    Raises:
        IncompleteRow: ``values`` do not name exactly the table's columns.
    """
    statement = _insert_unless_present(session.conn.dialect.name, table, keys, where)
    return session.first(statement, complete_row(table, values)) is not None


@cache
def _insert_unless_present(
    dialect_name: str, table: sa.Table, keys: tuple[str, ...], where: sa.ColumnElement[bool] | None
) -> sa.Insert:
    every_column = {column: sa.bindparam(column.key, type_=column.type) for column in table.c}
    statement = (
        _CONFLICT_AWARE_INSERTS[dialect_name](table)
        .values(every_column)
        .on_conflict_do_nothing(index_elements=list(keys), index_where=where)
    )
    # RETURNING, not rowcount: drivers need not report a row count for INSERT.
    return statement.returning(table.c[keys[0]])  # type: ignore[no-any-return]


__all__ = ["IncompleteRow", "SqlSession", "complete_row", "insert_ignoring_conflicts"]
