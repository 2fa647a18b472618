"""Built-in plugin: the ``nats`` event bus on NATS JetStream.

``EVENTHIVE_EVENT_BUS=nats`` publishes each outbox event to JetStream and runs one durable
consumer per subscriber role; ``EVENTHIVE_NATS_*`` settings configure it, and
``EVENTHIVE_EVENT_BUS_OPTIONS`` may hold ``{"connect_timeout": seconds, "publish_timeout": seconds}``.
nats-py is imported only when the bus is chosen (the ``nats`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.plugins.factories import RegisterEventBus
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.settings import HiveSettings

#: The options ``EVENTHIVE_EVENT_BUS_OPTIONS`` may hold for ``nats``, with their defaults (seconds).
NATS_OPTIONS: Mapping[str, float] = {"connect_timeout": 5.0, "publish_timeout": 10.0}


def make_nats_bus(settings: HiveSettings, options: Mapping[str, Any]) -> EventBus:
    """Build the JetStream bus from the ``EVENTHIVE_NATS_*`` settings; it connects on first use.

    Raises:
        ConfigurationError: Unknown or non-numeric option, or nats-py is not installed.
    """
    unknown = sorted(set(options) - set(NATS_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"EVENTHIVE_EVENT_BUS_OPTIONS has {', '.join(unknown)}, which the nats bus does not read "
            f"(it reads {', '.join(NATS_OPTIONS)}; the rest are EVENTHIVE_NATS_* settings)"
        )
    timeouts: dict[str, float] = {}
    for key, default in NATS_OPTIONS.items():
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigurationError(f"EVENTHIVE_EVENT_BUS_OPTIONS {key} must be a positive number of seconds")
        timeouts[key] = float(value)
    try:
        from eventhive_core.adapters.nats import NatsBus
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f'EVENTHIVE_EVENT_BUS=nats needs nats-py ({exc.name} is missing): pip install "eventhive-tickets[nats]"'
        ) from exc

    return NatsBus(
        url=settings.nats_url,
        prefix=settings.nats_prefix,
        roles=settings.nats_roles,
        max_deliver=settings.nats_max_deliver,
        ack_wait=settings.nats_ack_wait,
        first_retry_delay=settings.nats_retry_delay,
        duplicate_window=settings.nats_duplicate_window,
        batch_size=settings.nats_batch_size,
        connect_timeout=timeouts["connect_timeout"],
        publish_timeout=timeouts["publish_timeout"],
    )


@hookimpl
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register ``nats``."""
    register("nats", make_nats_bus)


__all__ = ["NATS_OPTIONS", "make_nats_bus"]
