"""Driver errors translated into EventHive's.

What a caller may retry becomes TransientStorageError. A unique violation of an index that
stands for a race (two units inserting the same thing at once) becomes ConcurrencyConflict, as
a lost guarded write does: the message bus runs the loser again, and it then finds the winner's row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError

# SQLSTATE classes worth a retry: transaction rollback (serialization failure, deadlock),
# connection exceptions, operator intervention (server restart), insufficient resources.
_RETRYABLE_SQLSTATE_PREFIXES = ("40", "08", "57P", "53")
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
_UNIQUE_VIOLATION = "23505"

#: Unique indexes whose violation means that a concurrent unit inserted the same row first.
RACE_INDEXES = frozenset({"uq_orders_buyer_idempotency_key", "uq_payments_idempotency_key"})


def is_retryable(error: exc.DBAPIError) -> bool:
    """Tell whether a driver error is transient: the same unit may succeed if run again."""
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_RETRYABLE_SQLSTATE_PREFIXES)
    if isinstance(error, exc.OperationalError):
        if type(error.orig).__module__.startswith("psycopg"):
            return True  # no SQLSTATE: the connection itself failed
        text = str(error.orig).lower()
        # SQLite names a missing table with OperationalError too; that one is not transient.
        return any(marker in text for marker in _SQLITE_BUSY) or "disk i/o" in text or "unable to open" in text
    return False


def is_lost_race(error: exc.DBAPIError) -> bool:
    """Tell whether a driver error is a PostgreSQL unique violation of one of the ``RACE_INDEXES``.

    Only PostgreSQL needs this: its inserts of new orders ride along with the commit, so a
    duplicate shows there, and two claims of one payment attempt can collide on its key. On
    SQLite the repository inserts orders with ``ON CONFLICT DO NOTHING``, and its single writer
    never lets two claims read the same attempts.
    """
    if getattr(error.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
        return False
    return getattr(getattr(error.orig, "diag", None), "constraint_name", None) in RACE_INDEXES


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise transient driver errors as TransientStorageError and lost races as ConcurrencyConflict."""
    try:
        yield
    except exc.DBAPIError as error:
        if is_retryable(error):
            raise TransientStorageError() from error
        if is_lost_race(error):
            raise ConcurrencyConflict() from error
        raise


__all__ = ["RACE_INDEXES", "is_lost_race", "is_retryable", "translated_errors"]
