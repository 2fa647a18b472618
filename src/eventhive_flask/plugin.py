"""The ``flask`` plugin (entry point ``eventhive: flask``): Flask hook specs and ``eventhive serve``.

Importing this module needs neither Flask nor gunicorn, so ``eventhive plugins`` lists it even
where the ``server`` extra is missing; ``serve`` says what to install when it is.
"""

from __future__ import annotations

from collections.abc import Callable

import click
import pluggy

from eventhive_core import hookimpl


@hookimpl
def eventhive_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add the Flask-only hooks (``eventhive_flask_*``)."""
    from eventhive_flask import hookspecs

    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def eventhive_register_commands(add: Callable[[click.Command], None]) -> None:
    """Add ``eventhive serve``."""
    from eventhive_flask.serve import serve

    add(serve)


__all__ = ["eventhive_add_hookspecs", "eventhive_register_commands"]
