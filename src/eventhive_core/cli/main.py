"""The ``eventhive`` click group: the built-in commands, and those plugins add through ``eventhive_register_commands``.

Before any command runs, the whole ``EVENTHIVE_*`` environment is checked once (one line per
invalid value, exit status 2), and the commands then take their Hive from the click context
(:mod:`eventhive_core.cli.context`).
"""

from __future__ import annotations

from typing import Any

import click

from eventhive_core.cli.context import source_of
from eventhive_core.cli.environment import SettingsError
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.observability.logs import configure_logging
from eventhive_core.version import __version__


class EventHiveGroup(click.Group):
    """A group that checks the settings before running anything and also lists plugins' commands."""

    def _plugins(self, ctx: click.Context) -> dict[str, click.Command]:
        try:
            registries = source_of(ctx).registries
        except SettingsError:
            # Listing commands for --help must work even with a bad setting; running one reports it.
            return {}
        return {spec.command.name or "": spec.command for spec in registries.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return built-in and plugin command names, sorted."""
        return sorted({*super().list_commands(ctx), *self._plugins(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a built-in command, else a plugin's."""
        return super().get_command(ctx, cmd_name) or self._plugins(ctx).get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Check the environment once, before any command is looked up or run."""
        source_of(ctx)
        return super().invoke(ctx)


@click.group(cls=EventHiveGroup)
@click.version_option(__version__, prog_name="eventhive")
def cli() -> None:
    """EventHive: sell and buy tickets without overselling."""


def main() -> None:
    """Run the CLI (the ``eventhive`` console script), its log lines in EventHive's format.

    ``EVENTHIVE_LOG_FORMAT`` and ``EVENTHIVE_LOG_LEVEL`` choose the format and level; an invalid
    value leaves the defaults here, and the settings check then reports it before any command runs.
    """
    try:
        configure_logging()
    except ConfigurationError:
        configure_logging("auto", "INFO", environ={})
    cli()


# Built-in commands attach once the group exists; each imports its optional libraries when it runs.
from eventhive_core.cli.db import db  # noqa: E402
from eventhive_core.cli.events import events  # noqa: E402
from eventhive_core.cli.maintenance import relay, sweep, users  # noqa: E402
from eventhive_core.cli.plugins import plugins  # noqa: E402
from eventhive_core.cli.schemas import schemas  # noqa: E402
from eventhive_core.cli.worker import worker  # noqa: E402

for _command in (db, events, plugins, relay, schemas, sweep, users, worker):
    cli.add_command(_command)
