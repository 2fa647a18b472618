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

    config = alembic_config(url)
    with _engine(url, engine) as eng:
        with eng.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
            config.attributes["connection"] = conn
            if progress is not None:
                config.attributes["on_version_apply"] = _reporter(progress)
            command.upgrade(config, revision)
        return current(url, engine=eng)


def _reporter(progress: Callable[[str], None]) -> Callable[..., None]:
    def report(*, step: Any, **_: Any) -> None:
        for script in step.destination_revisions:
            progress(f"applied {script.revision}: {script.doc}")

    return report


def is_current(url: str | URL, *, engine: Engine | None = None) -> bool:
    """Tell whether the database is at the newest shipped revision."""
    return current(url, engine=engine) == head()


__all__ = ["MIGRATIONS", "alembic_config", "current", "current_on", "head", "is_current", "upgrade"]
