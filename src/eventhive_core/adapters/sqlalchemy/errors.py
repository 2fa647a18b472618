"""Driver errors translated into EventHive's: what a caller may retry becomes TransientStorageError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from eventhive_core.domain.errors import TransientStorageError

# SQLSTATE classes worth a retry: transaction rollback (serialization failure, deadlock),
# connection exceptions, operator intervention (server restart), insufficient resources.
_RETRYABLE_SQLSTATE_PREFIXES = ("40", "08", "57P", "53")
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


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


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise transient driver errors as TransientStorageError; let every other error through."""
    try:
        yield
    except exc.DBAPIError as error:
        if is_retryable(error):
            raise TransientStorageError() from error
        raise


__all__ = ["is_retryable", "translated_errors"]
