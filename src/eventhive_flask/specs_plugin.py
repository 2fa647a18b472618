"""The plugin every Hive of the extension gets: it adds the Flask hook specifications (``eventhive_flask_*``).

The extension registers this module rather than :mod:`eventhive_flask.plugin`, the ``flask`` entry
point: that one also adds ``eventhive serve``, which builds apps with the extension, so the
extension importing it made the two import each other. The Hive still needs the specifications
when no entry point brings them (``EVENTHIVE_LOAD_PLUGINS`` without ``flask``, or
``EVENTHIVE_BLOCK_PLUGINS=flask``): the extension calls ``eventhive_flask_register_blueprints``,
and a plugin implementing a Flask hook must pass validation.

Importing this module needs neither Flask nor gunicorn.
"""

from __future__ import annotations

import pluggy

from eventhive_core import hookimpl

#: A hook the Flask specifications define: when it has a specification, they are added already.
_PROBE = "eventhive_flask_register_blueprints"


@hookimpl
def eventhive_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add the Flask-only hooks (``eventhive_flask_*``) unless they are there already.

    The ``flask`` entry point implements this hook with this very function, and an extension's
    Hive usually has both plugins: pluggy refuses a specification added twice.
    """
    from eventhive_flask import hookspecs

    caller = getattr(plugin_manager.hook, _PROBE, None)
    if caller is not None and caller.has_spec():
        return
    plugin_manager.add_hookspecs(hookspecs)


__all__ = ["eventhive_add_hookspecs"]
