"""The ``flask`` plugin (entry point ``eventhive: flask``): Flask hook specs, settings, ``serve`` and ``service``.

Importing this module needs neither Flask nor gunicorn, so ``eventhive plugins`` lists it even
where the ``server`` extra is missing; ``serve`` and ``service`` say what to install when it is.

Nothing in the package imports it: ``serve`` builds apps with the extension, so the extension
registers :mod:`eventhive_flask.specs_plugin` (the hook specifications alone) instead.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from pydantic import BaseModel, ConfigDict

from eventhive_core import hookimpl

# The extension registers specs_plugin itself; this module (the entry point) implements the hook
# with the same function, which adds the specifications once whichever plugin runs first.
from eventhive_flask.specs_plugin import eventhive_add_hookspecs


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
    """Add ``eventhive serve`` (the whole platform) and ``eventhive service ROLE`` (one service of a split)."""
    from eventhive_flask.serve import serve
    from eventhive_flask.service import service

    add(serve)
    add(service)


__all__ = ["ServeSettings", "eventhive_add_hookspecs", "eventhive_register_commands", "eventhive_register_settings"]
