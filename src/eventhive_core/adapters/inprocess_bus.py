"""An event bus that delivers inside ``publish``, in the publishing thread.

For the embedded mode and tests. The outbox relay publishes; if a subscriber fails the whole
publish fails, the outbox row stays unsent and is published again later. Subscribers that had
already succeeded see that message id again and drop it (processed-message ids), so only the
failed ones do any work on the retry.

This module is also the built-in plugin ``builtin.inprocess_bus``: it registers the bus as
``inprocess`` (``EVENTHIVE_EVENT_BUS``, the default).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from eventhive_core.deprecation import deprecated_names
from eventhive_core.markers import hookimpl
from eventhive_core.ports import event_bus
from eventhive_core.ports.event_bus import (
    BusClosed,
    Delivery,
    DeliveryFailed,
    SubscriptionTable,
    deliver_in_batches,
    deliver_to_each,
)
from eventhive_core.ports.messages import Message

if TYPE_CHECKING:
    from eventhive_core.plugins.factories import RegisterEventBus
    from eventhive_core.ports.event_bus import Subscription
    from eventhive_core.settings import HiveSettings

__all__ = ["BusClosed", "DeliveryFailed", "InProcessBus", "deliver_to_each", "eventhive_register_event_buses"]

logger = logging.getLogger(__name__)


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
        self._table = SubscriptionTable()
        self._closed = False

    def __repr__(self) -> str:
        return f"InProcessBus(subscribers={len(self._table)}, closed={self._closed})"

    @property
    def subscriptions(self) -> tuple[Subscription[Delivery], ...]:
        """Every subscription, in registration order."""
        return self._table.all()

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a unique subscriber ``name``.

        Raises:
            ValueError: The name is empty or already taken.
            BusClosed: The bus was closed.
        """
        if self._closed:
            raise BusClosed(f"Cannot subscribe {name!r}: the event bus is closed")
        self._table.add(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        """Call every subscriber of ``message.type`` in registration order.

        Raises:
            DeliveryFailed: Some subscribers raised; the others were still called.
            BusClosed: The bus was closed.
        """
        if self._closed:
            raise BusClosed(f"Cannot publish {message.type} {message.id}: the event bus is closed")
        deliver_to_each(self._table.of_type(message.type), message)

    def publish_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        """Deliver a batch (the relay's): each subscriber gets its messages at once; return each one's failure.

        A subscriber that takes batches (every subscriber of the core does) records and handles
        them in one unit of work, so a batch of orders costs one transaction per subscriber, not
        one per order and subscriber. Each subscriber still sees its messages in order; what
        changes is that it sees all of them before the next subscriber sees any.

        Raises:
            BusClosed: The bus was closed.
        """
        if self._closed:
            raise BusClosed(f"Cannot publish {len(messages)} message(s): the event bus is closed")
        types = {message.type for message in messages}
        return deliver_in_batches([s for s in self._table.all() if s.event_type in types], messages)

    def start(self) -> None:
        """Do nothing: delivery happens inside ``publish``."""

    def check_reachable(self, timeout: float) -> None:
        """Return at once: there is no server to reach, only this process.

        Raises:
            BusClosed: The bus was closed.
        """
        if self._closed:
            raise BusClosed("The event bus is closed")

    def close(self) -> None:
        """Refuse further publishes and subscriptions; idempotent."""
        self._closed = True


def make_inprocess_bus(settings: HiveSettings, options: Mapping[str, Any]) -> InProcessBus:
    """Build a bus that delivers to subscribers in this process (``EVENTHIVE_EVENT_BUS=inprocess``)."""
    return InProcessBus()


@hookimpl
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register ``inprocess``: this module is the built-in plugin ``builtin.inprocess_bus``."""
    register("inprocess", make_inprocess_bus)


__getattr__ = deprecated_names(
    __name__, {"Subscription": (event_bus.Subscription, "eventhive_core.ports.event_bus.Subscription")}
)
