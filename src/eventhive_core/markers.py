"""The pluggy markers of the ``eventhive`` project: ``hookspec`` for the core, ``hookimpl`` for plugins.

Plugins mark their hook functions with :data:`hookimpl` (re-exported as ``eventhive_core.hookimpl``)::

    from eventhive_core import hookimpl

    @hookimpl
    def eventhive_register_payment_providers(register):
        register("acme", make_acme_gateway)

Both markers keep the decorated function's type, so ``mypy --strict`` checks plugin code as written.

They live at the package's root, below every layer, because the built-in adapters are plugins
themselves: each adapter module marks its own registration hook, and adapters do not import the
plugin machinery (:mod:`eventhive_core.plugins.markers` re-exports these for everyone else).
"""

from __future__ import annotations

from typing import Final

import pluggy

#: The pluggy project name; also the entry-point group plugins are published under.
PROJECT_NAME: Final = "eventhive"

#: Marks a hook specification (the core's, or another package's added through ``eventhive_add_hookspecs``).
hookspec: Final = pluggy.HookspecMarker(PROJECT_NAME)

#: Marks a hook implementation in a plugin; accepts ``tryfirst``, ``trylast``, ``wrapper`` and the other pluggy options.
hookimpl: Final = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
