"""Built-in plugin: the in-process event bus, ``EVENTHIVE_EVENT_BUS=inprocess`` (the default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.plugins.factories import RegisterEventBus
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.settings import HiveSettings


def make_inprocess_bus(settings: HiveSettings, options: Mapping[str, Any]) -> EventBus:
    """Build a bus that delivers to subscribers in this process."""
    from eventhive_core.adapters.inprocess_bus import InProcessBus

    return InProcessBus()


@hookimpl
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register ``inprocess``."""
    register("inprocess", make_inprocess_bus)
