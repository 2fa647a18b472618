"""The ``eventhive`` click group; plugins add subcommands through ``eventhive_register_commands``."""

from __future__ import annotations

import click

from eventhive_core.version import __version__


class EventHiveGroup(click.Group):
    """A group that also lists the commands plugins register, loaded only when the CLI runs."""

    _plugin_commands: dict[str, click.Command] | None = None

    def _plugins(self) -> dict[str, click.Command]:
        if self._plugin_commands is None:
            from eventhive_core.plugins.cli_loading import plugin_commands

            self._plugin_commands = {cmd.name or "": cmd for cmd in plugin_commands()}
        return self._plugin_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return built-in and plugin command names, sorted."""
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a built-in command, else a plugin's."""
        return super().get_command(ctx, cmd_name) or self._plugins().get(cmd_name)


@click.group(cls=EventHiveGroup)
@click.version_option(__version__, prog_name="eventhive")
def cli() -> None:
    """EventHive: sell and buy tickets without overselling."""


def main() -> None:
    """Run the CLI (the ``eventhive`` console script)."""
    cli()


# Built-in commands attach once the group exists; each module imports only what it needs.
from eventhive_core.cli.maintenance import relay, sweep, users  # noqa: E402
from eventhive_core.cli.plugins import plugins  # noqa: E402
from eventhive_core.cli.schemas import schemas  # noqa: E402

for _command in (plugins, relay, schemas, sweep, users):
    cli.add_command(_command)
