"""The SQL unit of work: one connection and one transaction for every repository of a unit."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from eventhive_core.adapters.sqlalchemy.engine import WRITE
from eventhive_core.adapters.sqlalchemy.errors import is_lost_race, is_retryable, translated_errors
from eventhive_core.adapters.sqlalchemy.outbox import SqlIdempotencyStore, SqlOutbox, SqlProcessedMessages
from eventhive_core.adapters.sqlalchemy.repositories import (
    SqlOrderRepository,
    SqlPaymentRepository,
    SqlRevokedTokens,
    SqlTicketRepository,
    SqlUserRepository,
)
from eventhive_core.adapters.sqlalchemy.session import SqlSession
from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError
from eventhive_core.ports.storage import (
    IdempotencyStore,
    OrderRepository,
    Outbox,
    PaymentRepository,
    ProcessedMessages,
    RevokedTokens,
    TicketRepository,
    UserRepository,
)


class SqlUnitOfWork:
    """One transaction over every repository; rolled back on exit unless ``commit()`` ran.

    ``session_type`` is the path the repositories' statements take (see ``session.py``): the
    storage chooses it once for all its units.

    Retryable driver errors raised inside the ``with`` block (a lost connection, a
    serialization failure, SQLite's busy timeout) leave it as TransientStorageError, and a
    duplicate insert that lost a race (see ``errors.RACE_INDEXES``) as ConcurrencyConflict.
    """

    # Annotated with the ports (protocol attributes are invariant); the values are the SQL classes.
    users: UserRepository
    tickets: TicketRepository
    orders: OrderRepository
    payments: PaymentRepository
    revoked_tokens: RevokedTokens
    outbox: Outbox
    processed: ProcessedMessages
    idempotency: IdempotencyStore

    def __init__(self, engine: Engine, session_type: type[SqlSession] = SqlSession, stripes: int = 1) -> None:
        self._engine = engine
        self._session_type = session_type
        self._stripes = stripes
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("A unit of work cannot be entered twice; ask the storage for a new one")
        with translated_errors():
            # The transaction begins with the first statement (SQLAlchemy's autobegin); write
            # units begin with SQLite's write lock (see engine.py), held only until commit.
            conn = self._engine.connect().execution_options(**{WRITE: True})
        self._conn = conn
        self._session = session = self._session_type(conn, self._stripes)
        self.users = SqlUserRepository(session)
        self.tickets = SqlTicketRepository(session)
        self.orders = SqlOrderRepository(session)
        self.payments = SqlPaymentRepository(session)
        self.revoked_tokens = SqlRevokedTokens(session)
        self.outbox = SqlOutbox(session)
        self.processed = SqlProcessedMessages(session)
        self.idempotency = SqlIdempotencyStore(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        except exc.DBAPIError:
            # The connection is gone; the server discards the transaction with it.
            if exc_value is None:
                raise
        finally:
            conn.close()
        if isinstance(exc_value, exc.DBAPIError) and is_retryable(exc_value):
            raise TransientStorageError() from exc_value
        if isinstance(exc_value, exc.DBAPIError) and is_lost_race(exc_value):
            # A queued insert sent by a later statement, not by commit(): the same lost race.
            raise ConcurrencyConflict() from exc_value

    def commit(self) -> None:
        """Make every change of this unit visible at once; later statements start a new transaction.

        Raises:
            TransientStorageError: The database refused the commit for a retryable reason.
        """
        self._require()
        with translated_errors():
            self._session.commit()

    def rollback(self) -> None:
        """Discard every change of this unit; later statements start a new transaction."""
        self._require()
        with translated_errors():
            self._session.rollback()

    def _require(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("Use the unit of work as a context manager: with storage.unit_of_work() as uow: ...")
        return self._conn


__all__ = ["SqlUnitOfWork"]
