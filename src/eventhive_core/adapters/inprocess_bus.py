"""An event bus that delivers inside ``publish``, in the publishing thread.

For the embedded mode and tests. The outbox relay publishes; if a subscriber fails the whole
publish fails, the outbox row stays unsent and is published again later. Subscribers that had
already succeeded see that message id again and drop it (processed-message ids), so only the
failed ones do any work on the retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from eventhive_core.ports.event_bus import Delivery
from eventhive_core.ports.messages import Message

__all__ = ["BusClosed", "DeliveryFailed", "InProcessBus", "Subscription"]

logger = logging.getLogger(__name__)


class BusClosed(RuntimeError):
    """The bus was closed; nothing more can be published or subscribed."""


class DeliveryFailed(Exception):
    """One or more subscribers raised while handling a message.

    Every other subscriber was still called. Publishing the same message again retries it.

    Attributes:
        message: The message that failed.
        errors: The exception each failing subscriber raised, by subscriber name, in delivery order.
    """

    def __init__(self, message: Message, errors: Mapping[str, Exception]) -> None:
        self.message = message
        self.errors: Mapping[str, Exception] = MappingProxyType(dict(errors))
        details = "; ".join(f"{name}: {type(exc).__name__}: {exc}" for name, exc in self.errors.items())
        super().__init__(
            f"Delivery of {message.type} {message.id} failed for {len(self.errors)} subscriber(s): {details}"
        )

    @property
    def failed(self) -> tuple[str, ...]:
        """The names of the subscribers that failed, in delivery order."""
        return tuple(self.errors)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One registered subscriber.

    Attributes:
        name: Stable, unique subscriber name (the key of its processed-message ids).
        event_type: The message type it receives.
        role: The part of the system it belongs to (``orders``, ``payments``, ...).
        deliver: The callback.
    """

    name: str
    event_type: str
    role: str
    deliver: Delivery


class InProcessBus:
    """Deliver each published message to its subscribers, synchronously and in registration order.

    Thread-safe: subscriptions may be added while other threads publish.

    Examples:
        >>> bus = InProcessBus()
        >>> seen = []
        >>> bus.subscribe("audit", "order:created", "orders", lambda m: seen.append(m.id))
        >>> bus.publish(Message(id="e1", type="order:created", body="{}"))
        >>> seen
        ['e1']
    """

    name = "inprocess"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Subscription] = {}
        self._by_type: dict[str, tuple[Subscription, ...]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"InProcessBus(subscribers={len(self._by_name)}, closed={self._closed})"

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every subscription, in registration order."""
        with self._lock:
            return tuple(self._by_name.values())

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a unique subscriber ``name``.

        Raises:
            ValueError: The name is empty or already taken.
            BusClosed: The bus was closed.
        """
        if not name:
            raise ValueError("A subscriber needs a name")
        with self._lock:
            if self._closed:
                raise BusClosed(f"Cannot subscribe {name!r}: the event bus is closed")
            if name in self._by_name:
                existing = self._by_name[name]
                raise ValueError(
                    f"A subscriber named {name!r} is already registered (for {existing.event_type}, role "
                    f"{existing.role!r}); names must be unique because processed-message ids are kept per name"
                )
            subscription = Subscription(name=name, event_type=event_type, role=role, deliver=deliver)
            self._by_name[name] = subscription
            # Copy-on-write so publish can iterate a snapshot without holding the lock.
            self._by_type[event_type] = (*self._by_type.get(event_type, ()), subscription)

    def publish(self, message: Message) -> None:
        """Call every subscriber of ``message.type`` in registration order.

        Raises:
            DeliveryFailed: Some subscribers raised; the others were still called.
            BusClosed: The bus was closed.
        """
        with self._lock:
            if self._closed:
                raise BusClosed(f"Cannot publish {message.type} {message.id}: the event bus is closed")
            subscribers = self._by_type.get(message.type, ())
        errors: dict[str, Exception] = {}
        for subscription in subscribers:
            try:
                subscription.deliver(message)
            except Exception as exc:  # one failing subscriber must not starve the others
                logger.warning(
                    "Subscriber %s failed on %s %s; it will be retried",
                    subscription.name,
                    message.type,
                    message.id,
                    exc_info=True,
                )
                errors[subscription.name] = exc
        if errors:
            raise DeliveryFailed(message, errors)

    def start(self) -> None:
        """Do nothing: delivery happens inside ``publish``."""

    def close(self) -> None:
        """Refuse further publishes and subscriptions; idempotent."""
        with self._lock:
            self._closed = True
