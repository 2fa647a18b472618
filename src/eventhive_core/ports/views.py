"""Deprecated: the read models moved to :mod:`eventhive_core.domain.read_models` (they are not ports).

Names imported from here still work for one release, with a warning.
"""

from __future__ import annotations

from eventhive_core.deprecation import deprecated_names
from eventhive_core.domain import read_models

__all__ = list(read_models.__all__)


__getattr__ = deprecated_names(
    __name__,
    {name: (getattr(read_models, name), f"eventhive_core.domain.read_models.{name}") for name in read_models.__all__},
)
