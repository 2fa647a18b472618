"""Schema migrations: Alembic run from code with the scripts shipped in the package (no alembic.ini)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

from eventhive_core.adapters.sqlalchemy.engine import WRITE, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: a process that only serves requests never needs it.

MIGRATIONS = Path(__file__).parent / "migrations"

#: Key of the PostgreSQL advisory lock that serialises concurrent upgrades ("EvHv" in ASCII).
_UPGRADE_LOCK_KEY = 0x45764876


def alembic_config(url: str | URL | None = None) -> Config:
    """Return an Alembic configuration pointing at the shipped migration scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        # ConfigParser interpolation: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head() -> str:
    """Return the newest revision shipped in the package."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("No migration scripts found")
    return revision


@contextmanager
def _engine(url: str | URL, engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
        return
    own = create_engine(url)
    try:
        yield own
    finally:
        own.dispose()


def current(url: str | URL, *, engine: Engine | None = None) -> str | None:
    """Return the database's schema revision, or None when it was never migrated."""
    with _engine(url, engine) as eng, eng.connect() as conn:
        return current_on(conn)


def current_on(conn: Connection) -> str | None:
    """Return the schema revision seen on an open connection, or None."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def upgrade(
    url: str | URL,
    revision: str = "head",
    *,
    engine: Engine | None = None,
    progress: Callable[[str], None] | None = None,
) -> str | None:
    """Migrate the database to ``revision`` (the newest by default) and return the revision reached.

    Safe to run from several processes at once: SQLite's write lock or a PostgreSQL advisory
    lock lets one upgrade at a time, and the others find nothing left to do.

    Args:
        url: The database URL.
        revision: Target revision.
        engine: An engine to reuse instead of building one from ``url``.
        progress: Called with one line per migration step applied.
    """
    from alembic import command

    return _migrate(url, engine, lambda config: command.upgrade(config, revision), progress)


def downgrade(url: str | URL, revision: str, *, engine: Engine | None = None) -> str | None:
    """Migrate the database back to ``revision`` and return the revision reached (None for empty).

    Like :func:`upgrade`, one process at a time; data is kept where the older schema can hold it.
    """
    from alembic import command

    return _migrate(url, engine, lambda config: command.downgrade(config, revision), None)


def _migrate(
    url: str | URL,
    engine: Engine | None,
    run: Callable[[Config], None],
    progress: Callable[[str], None] | None,
) -> str | None:
    config = alembic_config(url)
    with _engine(url, engine) as eng:
        with eng.connect().execution_options(**{WRITE: True}) as conn:
            _run_migration(conn, config, run, progress)
        return current(url, engine=eng)


def _run_migration(
    conn: Connection, config: Config, run: Callable[[Config], None], progress: Callable[[str], None] | None
) -> None:
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a table by copying it and dropping the original, which the rows
        # referring to it would refuse; foreign keys can only be switched off outside a
        # transaction, and are checked as a whole before the commit instead (SQLite's own
        # procedure for schema changes).
        _outside_a_transaction(conn, "PRAGMA foreign_keys = OFF")
    try:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
            config.attributes["connection"] = conn
            if progress is not None:
                config.attributes["on_version_apply"] = _reporter(progress)
            run(config)
            if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").first()) is not None:
                raise RuntimeError(f"The migration left a {broken[0]} row referring to a missing {broken[2]} row")
    finally:
        if sqlite:
            _outside_a_transaction(conn, "PRAGMA foreign_keys = ON")


def _outside_a_transaction(conn: Connection, statement: str) -> None:
    # On the driver itself: SQLAlchemy would begin a transaction first (see engine.py), in which
    # SQLite ignores this pragma.
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(statement)


def _reporter(progress: Callable[[str], None]) -> Callable[..., None]:
    def report(*, step: Any, **_: Any) -> None:
        for script in step.destination_revisions:
            progress(f"applied {script.revision}: {script.doc}")

    return report


def is_current(url: str | URL, *, engine: Engine | None = None) -> bool:
    """Tell whether the database is at the newest shipped revision."""
    return current(url, engine=engine) == head()


__all__ = ["MIGRATIONS", "alembic_config", "current", "current_on", "downgrade", "head", "is_current", "upgrade"]
