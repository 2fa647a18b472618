"""What plugins hand to the registration hooks: adapter factories, subscriber handlers, commands.

A factory is called once, at bootstrap, with the Hive's settings and the options of its kind
(``EVENTHIVE_STORAGE_OPTIONS`` for a storage, and so on), and returns the adapter. Import heavy
libraries inside the factory, not at module level, so that listing plugins stays cheap and a
missing extra only matters when its adapter is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

import click
from pydantic import BaseModel

from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.ports.storage import Storage
from eventhive_core.service_layer.messagebus import SubscriberHandler
from eventhive_core.settings import HiveSettings

AdapterT = TypeVar("AdapterT")

#: ``factory(settings, options) -> adapter``; ``options`` is the ``*_options`` setting of its kind.
Factory: TypeAlias = Callable[[HiveSettings, Mapping[str, Any]], AdapterT]

#: Builds the storage named by ``EVENTHIVE_STORAGE``.
StorageFactory: TypeAlias = Factory[Storage]

#: Builds the event bus named by ``EVENTHIVE_EVENT_BUS``.
EventBusFactory: TypeAlias = Factory[EventBus]

#: Builds the payment gateway named by ``EVENTHIVE_PAYMENT_PROVIDER``.
PaymentProviderFactory: TypeAlias = Factory[PaymentGateway]

#: Builds the expiry scheduler named by ``EVENTHIVE_SCHEDULER``.
SchedulerFactory: TypeAlias = Factory[ExpiryScheduler]

#: ``register(name, factory)`` as passed to ``eventhive_register_storage``.
RegisterStorage: TypeAlias = Callable[[str, StorageFactory], None]

#: ``register(name, factory)`` as passed to ``eventhive_register_event_buses``.
RegisterEventBus: TypeAlias = Callable[[str, EventBusFactory], None]

#: ``register(name, factory)`` as passed to ``eventhive_register_payment_providers``.
RegisterPaymentProvider: TypeAlias = Callable[[str, PaymentProviderFactory], None]

#: ``register(name, factory)`` as passed to ``eventhive_register_schedulers``.
RegisterScheduler: TypeAlias = Callable[[str, SchedulerFactory], None]

#: ``register(name, event_type, role, handler)`` as passed to ``eventhive_register_subscribers``.
RegisterSubscriber: TypeAlias = Callable[[str, str, str, SubscriberHandler], None]

#: ``add(command)`` as passed to ``eventhive_register_commands``.
AddCommand: TypeAlias = Callable[[click.Command], None]

#: ``register(model)`` as passed to ``eventhive_register_settings``: a pydantic model whose
#: field ``name`` is the environment variable ``EVENTHIVE_NAME``.
RegisterSettings: TypeAlias = Callable[[type[BaseModel]], None]

__all__ = [
    "AdapterT",
    "AddCommand",
    "EventBusFactory",
    "Factory",
    "PaymentProviderFactory",
    "RegisterEventBus",
    "RegisterPaymentProvider",
    "RegisterScheduler",
    "RegisterSettings",
    "RegisterStorage",
    "RegisterSubscriber",
    "SchedulerFactory",
    "StorageFactory",
    "SubscriberHandler",
]
