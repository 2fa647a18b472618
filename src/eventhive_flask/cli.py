"""``flask eventhive ...``: maintenance commands against the app's own Hive.

The same jobs as the core's ``eventhive sweep | relay | users ban | plugins``, but on the Hive
``init_app`` built from ``app.config``, so they act on exactly the app's storage. Commands that
plugins add to the core CLI (``db upgrade``, ``db current``...) are here too; ``db`` defaults
its ``--url`` to the app's database.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup

from eventhive_core import BanUser, EventHiveError
from eventhive_flask.state import current_hive, current_state


class _EventHiveAppGroup(AppGroup):
    """The ``eventhive`` group: its own commands, then those plugins register (``serve`` excluded)."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        found: dict[str, click.Command] = {}

        def add(command: click.Command) -> None:
            if command.name and command.name != "serve":
                found[command.name] = command

        add_command: Callable[[click.Command], None] = add
        current_hive.plugins.hook.eventhive_register_commands(add=add_command)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return our commands and the plugins' ones."""
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return one of our commands, else a plugin's (``db`` gets the app's URL as default)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        command = self._plugin_commands().get(cmd_name)
        if command is not None and cmd_name == "db":
            url = current_state().settings.database_url
            ctx.default_map = {**(ctx.default_map or {}), "db": {"upgrade": {"url": url}, "current": {"url": url}}}
        return command


eventhive_group = _EventHiveAppGroup("eventhive", help="EventHive maintenance, on this app's Hive.")


@eventhive_group.command("sweep")
def sweep_command() -> None:
    """Cancel every order whose hold ran out, now."""
    click.echo(f"Expired {current_hive.sweep()} order(s).")


@eventhive_group.command("relay")
def relay_command() -> None:
    """Publish every unsent outbox event now."""
    click.echo(f"Published {current_hive.relay_outbox()} event(s).")


@eventhive_group.group("users")
def users_group() -> None:
    """Manage users."""


@users_group.command("ban")
@click.argument("email")
def ban_command(email: str) -> None:
    """Ban the user with EMAIL: they cannot sign in and their tokens are refused in every process."""
    try:
        view = current_hive.handle(BanUser(email=email))
    except EventHiveError as exc:
        raise click.ClickException(f"{exc.message}: no user with email {email!r}") from exc
    current_hive.relay_outbox()
    click.echo(f"Banned {view.email} ({view.id}).")


@eventhive_group.command("plugins")
def plugins_command() -> None:
    """List the plugins of this app's Hive and the hooks each implements."""
    pm = current_hive.plugins
    click.echo(f"Plugins of {current_app.name}:")
    for name, plugin in sorted(pm.list_name_plugin()):
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        click.echo(f"  {name}: {', '.join(hooks) or 'no hooks'}")


__all__ = ["eventhive_group"]
