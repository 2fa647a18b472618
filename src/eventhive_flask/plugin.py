"""The ``flask`` plugin (entry point ``eventhive: flask``): Flask hook specs, settings and ``eventhive serve``.

Importing this module needs neither Flask nor gunicorn, so ``eventhive plugins`` lists it even
where the ``server`` extra is missing; ``serve`` says what to install when it is.
"""

from __future__ import annotations

from collections.abc import Callable

import click
import pluggy
from pydantic import BaseModel, ConfigDict

from eventhive_core import hookimpl


@hookimpl
def eventhive_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add the Flask-only hooks (``eventhive_flask_*``)."""
    from eventhive_flask import hookspecs

    plugin_manager.add_hookspecs(hookspecs)


class ServeSettings(BaseModel):
    """The variables only ``eventhive serve`` reads."""

    model_config = ConfigDict(extra="forbid")

    access_log: str | None = None
    """``EVENTHIVE_ACCESS_LOG``: where gunicorn writes its access log (``-`` for stdout); none by default."""


@hookimpl
def eventhive_register_settings(register: Callable[[type[BaseModel]], None]) -> None:
    """Declare the Flask extension's ``EVENTHIVE_*`` variables, so a bad value stops every command at once."""
    from eventhive_flask.config import FlaskSettings

    register(FlaskSettings)
    register(ServeSettings)


@hookimpl
def eventhive_register_commands(add: Callable[[click.Command], None]) -> None:
    """Add ``eventhive serve``."""
    from eventhive_flask.serve import serve

    add(serve)


__all__ = ["ServeSettings", "eventhive_add_hookspecs", "eventhive_register_commands", "eventhive_register_settings"]
