"""Alembic environment for EventHive's SQL storage, run programmatically by ``schema.py``.

``schema.upgrade`` hands over an open connection in ``config.attributes["connection"]`` so the
migration runs inside its transaction (and its lock); the URL path serves offline SQL output.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from eventhive_core.adapters.sqlalchemy.engine import create_engine
from eventhive_core.adapters.sqlalchemy.tables import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batches.
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=context.config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


_run()
