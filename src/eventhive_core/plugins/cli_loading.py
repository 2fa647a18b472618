"""Find the ``eventhive`` subcommands that plugins add, for the CLI group (loaded on first use)."""

from __future__ import annotations

import click
from pydantic import ValidationError

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.manager import make_plugin_manager
from eventhive_core.plugins.registry import collect_registries
from eventhive_core.settings import HiveSettings


def plugin_commands() -> list[click.Command]:
    """Return the commands added through ``eventhive_register_commands``, with settings from the environment.

    A bad setting or a broken plugin must not take the built-in commands down with it (they are
    how one inspects and fixes the set-up), so such a failure is reported on stderr and no plugin
    command is returned.
    """
    try:
        pm = make_plugin_manager(HiveSettings.from_env())
        registries = collect_registries(pm)
    except (ConfigurationError, ValidationError) as exc:
        click.echo(f"eventhive: plugin commands are unavailable: {exc}", err=True)
        return []
    return [spec.command for spec in registries.commands]


__all__ = ["plugin_commands"]
