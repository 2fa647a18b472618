"""``flask eventhive ...``: the core's own maintenance commands, on the app's Hive.

``sweep``, ``relay``, ``users ban``, ``plugins``, ``db`` and the commands plugins add are the very
commands of ``eventhive``: this group only hands them the Hive ``init_app`` built from
``app.config`` (through the click context), so they act on exactly the app's storage and ``db``
defaults to the app's database. ``serve``, ``service`` and ``worker`` run their own processes from
the environment, so they are ``eventhive`` commands only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo

from eventhive_core import Hive, HiveSettings
from eventhive_core.cli.context import SOURCE_KEY, use_source
from eventhive_core.cli.main import cli as core_cli
from eventhive_core.plugins.manager import HivePluginManager
from eventhive_core.plugins.registry import Registries, collect_registries
from eventhive_flask.state import state_of

#: Commands that start processes of their own from the environment, not from an app.
STANDALONE_COMMANDS = frozenset({"serve", "service", "worker"})


class AppHiveSource:
    """The Hive of one Flask app, for the core's commands (it stays open: the app owns it).

    Args:
        app: An app ``EventHive`` was set up on.
    """

    standalone = False

    def __init__(self, app: Flask) -> None:
        self._state = state_of(app)
        self._registries: Registries | None = None

    @property
    def settings(self) -> HiveSettings:
        """The settings the app's Hive was built with."""
        return self._state.settings

    @property
    def plugins(self) -> HivePluginManager:
        """The app's plugin manager."""
        # bootstrap always makes a HivePluginManager; the Hive's attribute is typed as pluggy's.
        return cast(HivePluginManager, self._state.hive.plugins)

    @property
    def registries(self) -> Registries:
        """What the app's plugins registered."""
        if self._registries is None:
            self._registries = collect_registries(self._state.hive.plugins)
        return self._registries

    @contextmanager
    def open(self) -> Iterator[Hive]:
        """Give the app's Hive, left open for the app."""
        yield self._state.hive


class _EventHiveAppGroup(AppGroup):
    """The core's commands (but ``serve`` and ``worker``), each given this app's Hive."""

    def _use_app(self, ctx: click.Context) -> None:
        if SOURCE_KEY not in ctx.meta:
            app = ctx.ensure_object(ScriptInfo).load_app()
            # As with Flask's own commands: plugin code the command reaches may use current_app.
            ctx.with_resource(app.app_context())
            use_source(ctx, AppHiveSource(app))

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the core's command names that make sense inside an app."""
        self._use_app(ctx)
        return [name for name in core_cli.list_commands(ctx) if name not in STANDALONE_COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the core's command of that name, bound to this app's Hive through the context."""
        if cmd_name in STANDALONE_COMMANDS:
            return None
        self._use_app(ctx)
        return core_cli.get_command(ctx, cmd_name)


eventhive_group = _EventHiveAppGroup("eventhive", help="EventHive maintenance, on this app's Hive.")


__all__ = ["STANDALONE_COMMANDS", "AppHiveSource", "eventhive_group"]
