"""Built-in plugin: the ``celery`` expiry scheduler and event bus (``eventhive worker`` runs their tasks).

``EVENTHIVE_SCHEDULER=celery`` sends one ETA task per order after its commit;
``EVENTHIVE_EVENT_BUS=celery`` delivers each event to each subscriber as a task. Both read
``{"queue": ..., "broker_url": ..., "transport_options": {...}}`` from their ``*_OPTIONS``
setting; the broker defaults to ``CELERY_BROKER_URL``. Celery itself is imported only when one
of them is chosen (the ``celery`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.plugins.factories import RegisterEventBus, RegisterScheduler
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.settings import HiveSettings


def make_celery_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> ExpiryScheduler:
    """Build the scheduler that sends ``eventhive.expire_order`` with an ETA.

    Raises:
        ConfigurationError: Unknown option keys.
    """
    from eventhive_core.adapters.celery import CeleryOptions, CeleryScheduler, TaskSender

    return CeleryScheduler(TaskSender(CeleryOptions.from_mapping(options)))


def make_celery_bus(settings: HiveSettings, options: Mapping[str, Any]) -> EventBus:
    """Build the bus that sends ``eventhive.deliver_event`` once per subscriber.

    Raises:
        ConfigurationError: Unknown option keys.
    """
    from eventhive_core.adapters.celery import CeleryEventBus, CeleryOptions, TaskSender

    return CeleryEventBus(TaskSender(CeleryOptions.from_mapping(options, setting="EVENTHIVE_EVENT_BUS_OPTIONS")))


@hookimpl
def eventhive_register_schedulers(register: RegisterScheduler) -> None:
    """Register ``celery``."""
    register("celery", make_celery_scheduler)


@hookimpl
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register ``celery``."""
    register("celery", make_celery_bus)


__all__ = ["make_celery_bus", "make_celery_scheduler"]
