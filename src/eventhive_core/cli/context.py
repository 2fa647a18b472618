"""Where a command gets its Hive: the environment for ``eventhive``, the app for ``flask eventhive``.

Every command is written once and asks the click context for a :class:`HiveSource`. The
``eventhive`` group puts an :class:`EnvironmentSource` there (settings checked once, from
``EVENTHIVE_*``); the Flask extension's ``flask eventhive`` group puts the app's own Hive there,
so the same commands act on exactly the app's storage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import click

from eventhive_core.cli.environment import check_environment
from eventhive_core.domain.errors import EventHiveError
from eventhive_core.hive import Hive
from eventhive_core.plugins.manager import HivePluginManager
from eventhive_core.plugins.registry import Registries
from eventhive_core.settings import HiveSettings

#: The key of the source in ``click.Context.meta`` (shared by a command and its parents).
SOURCE_KEY = "eventhive.source"


class HiveSource(Protocol):
    """What a command needs to reach a Hive."""

    @property
    def settings(self) -> HiveSettings:
        """The Hive's settings."""
        ...

    @property
    def plugins(self) -> HivePluginManager:
        """The plugin manager (what ``eventhive plugins`` lists)."""
        ...

    @property
    def registries(self) -> Registries:
        """What the plugins registered (adapters, subscribers, commands)."""
        ...

    @property
    def standalone(self) -> bool:
        """True when the commands run on their own (``eventhive``), false inside an app (``flask eventhive``)."""
        ...

    def open(self) -> AbstractContextManager[Hive]:
        """Give a Hive for one maintenance job (no expiry scheduler of its own), released afterwards."""
        ...


class EnvironmentSource:
    """A Hive built from the ``EVENTHIVE_*`` environment, checked once when the source is made.

    Args:
        environ: The environment; ``os.environ`` by default.

    Raises:
        SettingsError: A setting is invalid (one line each, exit status 2).
    """

    standalone = True

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        checked = check_environment(os.environ if environ is None else environ)
        self._settings = checked.settings
        self._plugins = checked.plugins
        self._registries = checked.registries
        self.warnings = checked.warnings

    @property
    def settings(self) -> HiveSettings:
        """The settings the environment gives."""
        return self._settings

    @property
    def plugins(self) -> HivePluginManager:
        """The plugins those settings load."""
        return self._plugins

    @property
    def registries(self) -> Registries:
        """What those plugins registered."""
        return self._registries

    @contextmanager
    def open(self) -> Iterator[Hive]:
        """Bootstrap a Hive without an expiry scheduler (a one-off job must not leave timers behind)."""
        from eventhive_core.bootstrap import bootstrap

        try:
            hive = bootstrap(self._settings.model_copy(update={"scheduler": "none"}))
        except EventHiveError as exc:
            raise click.ClickException(exc.message) from exc
        with hive:
            yield hive


def source_of(ctx: click.Context) -> HiveSource:
    """Return the context's Hive source, making an :class:`EnvironmentSource` the first time.

    Warnings about misspelt ``EVENTHIVE_*`` names are printed (on stderr) when it is made.

    Raises:
        SettingsError: The environment has an invalid setting.
    """
    source: HiveSource | None = ctx.meta.get(SOURCE_KEY)
    if source is None:
        environment = EnvironmentSource()
        for line in environment.warnings:
            click.echo(f"eventhive: warning: {line}", err=True)
        source = ctx.meta[SOURCE_KEY] = environment
    return source


def use_source(ctx: click.Context, source: HiveSource) -> None:
    """Make the commands run under ``ctx`` use ``source`` (the Flask extension passes its app's Hive)."""
    ctx.meta[SOURCE_KEY] = source


def maintenance_hive(ctx: click.Context, *, allow_memory: bool) -> AbstractContextManager[Hive]:
    """Return the Hive a maintenance command acts on, refusing memory storage unless allowed.

    A command run in its own process with memory storage would act on an empty store of its
    own (``relay --dead`` would say "0 dead event(s)" whatever the deployment holds), so it
    refuses, naming the setting, unless ``--allow-memory`` is given.

    Raises:
        click.UsageError: The storage is memory and ``allow_memory`` is false.
    """
    source = source_of(ctx)
    if source.settings.storage == "memory" and not allow_memory:
        raise click.UsageError(
            "EVENTHIVE_STORAGE is memory (the default when it is unset), so this command would act on an empty "
            "store of its own, not on your deployment's data. Set EVENTHIVE_STORAGE and EVENTHIVE_DATABASE_URL "
            "as the deployment does, or pass --allow-memory.",
            ctx,
        )
    return source.open()


#: ``--allow-memory`` for the maintenance commands.
allow_memory_option = click.option(
    "--allow-memory",
    is_flag=True,
    help="Run even on memory storage (an empty store of this process's own).",
)


__all__ = [
    "SOURCE_KEY",
    "EnvironmentSource",
    "HiveSource",
    "allow_memory_option",
    "maintenance_hive",
    "source_of",
    "use_source",
]
