"""Deprecated: renamed :mod:`eventhive_core.contracts.codec` (``plugins.registry`` is the other registry).

Names imported from here still work for one release, with a warning.
"""

from __future__ import annotations

from eventhive_core.contracts import codec
from eventhive_core.deprecation import deprecated_names

__all__ = list(codec.__all__)


__getattr__ = deprecated_names(
    __name__, {name: (getattr(codec, name), f"eventhive_core.contracts.codec.{name}") for name in codec.__all__}
)
