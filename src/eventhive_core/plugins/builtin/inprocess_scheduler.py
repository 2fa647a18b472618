"""Built-in plugin: expiry schedulers ``inprocess`` (timer thread, the default) and ``none`` (sweeper only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.plugins.factories import RegisterScheduler
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.settings import HiveSettings


def make_inprocess_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> ExpiryScheduler:
    """Build a scheduler that fires expiries from a timer thread in this process."""
    from eventhive_core.adapters.inprocess_scheduler import InProcessScheduler

    return InProcessScheduler()


def make_no_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> ExpiryScheduler:
    """Build a scheduler that schedules nothing: lazy expiry and the sweeper do the work."""
    from eventhive_core.adapters.inprocess_scheduler import NoScheduler

    return NoScheduler()


@hookimpl
def eventhive_register_schedulers(register: RegisterScheduler) -> None:
    """Register ``inprocess`` and ``none``."""
    register("inprocess", make_inprocess_scheduler)
    register("none", make_no_scheduler)
