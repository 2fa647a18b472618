"""Deprecated: the read models moved to :mod:`eventhive_core.domain.read_models` (they are not ports).

Names imported from here still work for one release, with a warning.
"""

from __future__ import annotations

import warnings

from eventhive_core.domain import read_models

__all__ = list(read_models.__all__)


def __getattr__(name: str) -> object:
    if name in read_models.__all__:
        warnings.warn(
            f"eventhive_core.ports.views is now eventhive_core.domain.read_models; import {name} from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(read_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
