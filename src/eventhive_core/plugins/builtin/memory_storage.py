"""Built-in plugin: the in-memory storage, ``EVENTHIVE_STORAGE=memory`` (the default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.plugins.factories import RegisterStorage
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.storage import Storage
from eventhive_core.settings import HiveSettings


def make_memory_storage(settings: HiveSettings, options: Mapping[str, Any]) -> Storage:
    """Build an empty in-memory storage (one process; data dies with it)."""
    from eventhive_core.adapters.memory import MemoryStorage

    return MemoryStorage()


@hookimpl
def eventhive_register_storage(register: RegisterStorage) -> None:
    """Register ``memory``."""
    register("memory", make_memory_storage)
