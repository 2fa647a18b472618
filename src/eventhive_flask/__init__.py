"""The EventHive Flask extension: the original's HTTP API and pages over an embedded Hive (not written yet)."""

from __future__ import annotations

__all__: list[str] = []
