"""Deprecated: renamed :mod:`eventhive_core.contracts.codec` (``plugins.registry`` is the other registry).

Names imported from here still work for one release, with a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from eventhive_core.contracts import codec

__all__ = list(codec.__all__)


def __getattr__(name: str) -> Any:
    if name in codec.__all__:
        warnings.warn(
            f"eventhive_core.contracts.registry is renamed eventhive_core.contracts.codec; import {name} from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(codec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
