"""Built-in plugin: SQL storage (``EVENTHIVE_STORAGE=sqlalchemy``) and the ``eventhive db`` commands.

The storage needs ``EVENTHIVE_DATABASE_URL``. A SQLite database (the embedded mode) is migrated
on start; a PostgreSQL database must already be at the newest revision (``eventhive db
upgrade``), so that several processes never race to change a shared schema while serving.

``EVENTHIVE_STORAGE_OPTIONS`` may hold ``{"migrate": "auto" | "upgrade" | "check" | "off",
"engine": {...create_engine keyword arguments...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.factories import AddCommand, RegisterStorage
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.storage import Storage
from eventhive_core.settings import HiveSettings

if TYPE_CHECKING:
    from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

_MIGRATE_MODES = ("auto", "upgrade", "check", "off")


def _missing_url() -> ConfigurationError:
    return ConfigurationError(
        "EVENTHIVE_STORAGE=sqlalchemy needs EVENTHIVE_DATABASE_URL, e.g. sqlite:///eventhive-data/eventhive.sqlite3 "
        "or postgresql+psycopg://user@127.0.0.1:5432/eventhive"
    )


def _open(url: str, engine_options: Mapping[str, Any] | None) -> SqlAlchemyStorage:
    from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

    try:
        return SqlAlchemyStorage(url, engine_options=engine_options)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"The database driver for {url.split(':', 1)[0]} is not installed ({exc.name}): "
            'pip install "eventhive-tickets[postgres]"'
        ) from exc


def make_sqlalchemy_storage(settings: HiveSettings, options: Mapping[str, Any]) -> Storage:
    """Build the SQL storage from ``EVENTHIVE_DATABASE_URL``, migrating or checking the schema first.

    Raises:
        ConfigurationError: No URL, a missing driver, an unreachable database, or a PostgreSQL
            schema that is not at the newest revision.
    """
    from sqlalchemy.exc import DBAPIError

    from eventhive_core.adapters.sqlalchemy import schema

    if not settings.database_url:
        raise _missing_url()
    mode = str(options.get("migrate", "auto"))
    if mode not in _MIGRATE_MODES:
        raise ConfigurationError(
            f"EVENTHIVE_STORAGE_OPTIONS migrate={mode!r} is not one of {', '.join(_MIGRATE_MODES)}"
        )
    storage = _open(settings.database_url, options.get("engine"))
    try:
        if mode == "auto":
            mode = "upgrade" if storage.dialect == "sqlite" else "check"
        if mode == "upgrade":
            schema.upgrade(storage.url, engine=storage.engine)
        elif mode == "check":
            found = schema.current(storage.url, engine=storage.engine)
            if found != schema.head():
                raise ConfigurationError(
                    f"The database at {storage.url} is at schema revision {found or 'none (empty)'} but this "
                    f"EventHive needs {schema.head()}: run `eventhive db upgrade` with EVENTHIVE_DATABASE_URL set."
                )
    except DBAPIError as exc:
        storage.close()
        raise ConfigurationError(f"Cannot use the database at {storage.url}: {exc.orig}") from exc
    except BaseException:
        storage.close()
        raise
    return storage


def _database_url(url: str | None) -> str:
    found = url or HiveSettings.from_env().database_url
    if not found:
        raise click.UsageError("Give --url or set EVENTHIVE_DATABASE_URL.")
    return found


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group("db")
def db() -> None:
    """Manage the SQL database schema (Alembic migrations shipped with EventHive)."""


_url_option = click.option(
    "--url", envvar="EVENTHIVE_DATABASE_URL", help="Database URL (default: EVENTHIVE_DATABASE_URL)."
)


@db.command("upgrade")
@_url_option
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(url: str | None, revision: str) -> None:
    """Migrate the database to the newest schema (safe to run twice, or from several hosts at once)."""
    from eventhive_core.adapters.sqlalchemy import schema

    found = _database_url(url)
    click.echo(f"Upgrading {_shown(found)} to {revision} ({schema.head()} is the newest)...")
    reached = schema.upgrade(found, revision, progress=lambda line: click.echo(f"  {line}"))
    click.echo(f"Database is at revision {reached}.")


@db.command("current")
@_url_option
def current_command(url: str | None) -> None:
    """Print the database's schema revision and whether it is the newest; exit 1 when it is not."""
    from eventhive_core.adapters.sqlalchemy import schema

    found = _database_url(url)
    revision = schema.current(found)
    newest = schema.head()
    state = "up to date" if revision == newest else f"behind {newest}: run `eventhive db upgrade`"
    click.echo(f"{_shown(found)}: revision {revision or 'none (empty)'} ({state})")
    if revision != newest:
        raise SystemExit(1)


@hookimpl
def eventhive_register_storage(register: RegisterStorage) -> None:
    """Register ``sqlalchemy``."""
    register("sqlalchemy", make_sqlalchemy_storage)


@hookimpl
def eventhive_register_commands(add: AddCommand) -> None:
    """Add ``eventhive db upgrade`` and ``eventhive db current``."""
    add(db)


__all__ = ["db", "make_sqlalchemy_storage"]
