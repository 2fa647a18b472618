"""The pluggy markers, where the plugin machinery has always offered them.

They are defined in :mod:`eventhive_core.markers`, below every layer, so that an adapter can
carry its own registration (``@hookimpl``) without importing the plugin machinery.
"""

from __future__ import annotations

from eventhive_core.markers import PROJECT_NAME, hookimpl, hookspec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
