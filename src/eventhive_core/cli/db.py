"""``eventhive db upgrade | current``: the SQL schema, migrated with the Alembic scripts EventHive ships.

The database is ``--url``, else the Hive source's ``EVENTHIVE_DATABASE_URL`` (under
``flask eventhive``, the app's database). SQLAlchemy loads only when a subcommand runs.
"""

from __future__ import annotations

import click

from eventhive_core.cli.context import source_of


def _database_url(ctx: click.Context, url: str | None) -> str:
    found = url or source_of(ctx).settings.database_url
    if not found:
        raise click.UsageError("Give --url or set EVENTHIVE_DATABASE_URL.", ctx)
    return found


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group("db")
def db() -> None:
    """Migrate the SQL database schema, or show its revision.

    The migrations are the Alembic scripts shipped with EventHive.
    """


_url_option = click.option("--url", help="Database URL (default: EVENTHIVE_DATABASE_URL, or the app's database).")


@db.command("upgrade")
@_url_option
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def upgrade(ctx: click.Context, url: str | None, revision: str) -> None:
    """Migrate the database to the newest schema.

    Safe to run twice, or from several hosts at once.
    """
    from eventhive_core.adapters.sqlalchemy import schema

    found = _database_url(ctx, url)
    click.echo(f"Upgrading {_shown(found)} to {revision} ({schema.head()} is the newest)...")
    reached = schema.upgrade(found, revision, progress=lambda line: click.echo(f"  {line}"))
    click.echo(f"Database is at revision {reached}.")


@db.command("current")
@_url_option
@click.pass_context
def current(ctx: click.Context, url: str | None) -> None:
    """Print the schema revision and whether it is the newest.

    The exit status is 1 when it is not, so scripts can wait for a migration.
    """
    from eventhive_core.adapters.sqlalchemy import schema

    found = _database_url(ctx, url)
    revision = schema.current(found)
    newest = schema.head()
    state = "up to date" if revision == newest else f"behind {newest}: run `eventhive db upgrade`"
    click.echo(f"{_shown(found)}: revision {revision or 'none (empty)'} ({state})")
    if revision != newest:
        raise SystemExit(1)


__all__ = ["db"]
