"""Built-in plugin: SQL storage (``EVENTHIVE_STORAGE=sqlalchemy``); ``eventhive db`` migrates its schema.

The storage needs ``EVENTHIVE_DATABASE_URL``. A SQLite database (the embedded mode) is migrated
on start; a PostgreSQL database must already be at the newest revision (``eventhive db
upgrade``), so that several processes never race to change a shared schema while serving.

``EVENTHIVE_STORAGE_OPTIONS`` may hold ``{"migrate": "auto" | "upgrade" | "check" | "off",
"engine": {...create_engine keyword arguments...}, "stripes": N, "fast_path": true | false}``
(see ``SqlAlchemyStorage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.factories import RegisterStorage
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


def _open(url: str, options: Mapping[str, Any]) -> SqlAlchemyStorage:
    from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage

    stripes, fast_path = options.get("stripes"), options.get("fast_path")
    if stripes is not None and (isinstance(stripes, bool) or not isinstance(stripes, int)):
        raise ConfigurationError(f"EVENTHIVE_STORAGE_OPTIONS stripes must be a whole number, not {stripes!r}")
    if fast_path is not None and not isinstance(fast_path, bool):
        raise ConfigurationError(f"EVENTHIVE_STORAGE_OPTIONS fast_path must be true or false, not {fast_path!r}")
    try:
        return SqlAlchemyStorage(url, engine_options=options.get("engine"), stripes=stripes, fast_path=fast_path)
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
    storage = _open(settings.database_url, options)
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


@hookimpl
def eventhive_register_storage(register: RegisterStorage) -> None:
    """Register ``sqlalchemy``."""
    register("sqlalchemy", make_sqlalchemy_storage)


__all__ = ["make_sqlalchemy_storage"]
