"""What the Celery adapters read from ``EVENTHIVE_SCHEDULER_OPTIONS`` / ``EVENTHIVE_EVENT_BUS_OPTIONS``.

Both settings take the same JSON object, e.g.
``{"queue": "eventhive", "broker_url": "redis://127.0.0.1:6379/0", "transport_options": {"visibility_timeout": 3600}}``.
Every key is optional: the queue defaults to ``eventhive``, and Celery's standard
``CELERY_BROKER_URL`` environment variable, when set, wins over ``broker_url`` (as it does in
Celery). When a Celery app is bound to the Hive
(:func:`~eventhive_core.adapters.celery.binding.bind_hive`), that app's broker is used instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.settings import HiveSettings

#: The queue our tasks go to unless the options name another.
DEFAULT_QUEUE = "eventhive"

#: Celery's standard environment variable for the broker URL.
BROKER_URL_ENV = "CELERY_BROKER_URL"

_KNOWN_KEYS = frozenset({"queue", "broker_url", "transport_options"})


@dataclass(frozen=True, slots=True)
class CeleryOptions:
    """The Celery adapters' options.

    Attributes:
        queue: The queue every ``eventhive.*`` task is sent to and workers consume.
        broker_url: The broker for a Hive that no Celery app was bound to. ``CELERY_BROKER_URL``
            in the environment wins over it, as it wins over Celery's own ``broker_url``.
        transport_options: Kombu transport options (Redis ``visibility_timeout``,
            ``global_keyprefix``...) for that same unbound case.
    """

    queue: str = DEFAULT_QUEUE
    broker_url: str | None = None
    transport_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, setting: str = "EVENTHIVE_SCHEDULER_OPTIONS") -> CeleryOptions:
        """Read options given to a factory; an unknown key fails so a typo does not pass silently.

        Raises:
            ConfigurationError: An unknown key, or a value of the wrong type.
        """
        unknown = sorted(set(options) - _KNOWN_KEYS)
        if unknown:
            known = ", ".join(sorted(_KNOWN_KEYS))
            raise ConfigurationError(f"{setting} has unknown key(s) {', '.join(unknown)} for Celery; known: {known}.")
        queue = options.get("queue", DEFAULT_QUEUE)
        broker_url = options.get("broker_url")
        transport = options.get("transport_options", {})
        if not isinstance(queue, str) or not queue:
            raise ConfigurationError(f"{setting} queue must be a non-empty string, got {queue!r}.")
        if broker_url is not None and not isinstance(broker_url, str):
            raise ConfigurationError(f"{setting} broker_url must be a string, got {broker_url!r}.")
        if not isinstance(transport, Mapping):
            raise ConfigurationError(f"{setting} transport_options must be a JSON object, got {transport!r}.")
        return cls(queue=queue, broker_url=broker_url, transport_options=dict(transport))

    @classmethod
    def from_settings(cls, settings: HiveSettings) -> CeleryOptions:
        """Return the options of whichever Celery adapter the settings choose (the scheduler's first)."""
        if settings.scheduler == "celery":
            return cls.from_mapping(settings.scheduler_options)
        if settings.event_bus == "celery":
            return cls.from_mapping(settings.event_bus_options, setting="EVENTHIVE_EVENT_BUS_OPTIONS")
        return cls()

    def resolved_broker_url(self) -> str | None:
        """Return ``CELERY_BROKER_URL`` when it is set, else the options' broker URL, else None."""
        return os.environ.get(BROKER_URL_ENV) or self.broker_url or None


__all__ = ["BROKER_URL_ENV", "DEFAULT_QUEUE", "CeleryOptions"]
