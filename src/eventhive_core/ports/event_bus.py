"""The event bus port: publish messages, deliver them to named subscribers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from eventhive_core.ports.messages import Message

#: A delivery callback: handles one message or raises to have it redelivered later.
Delivery = Callable[[Message], None]


class EventBus(Protocol):
    """Carries integration events from the outbox relay to subscribers.

    Delivery is at least once: a subscriber may see the same message id twice, and the
    service layer drops the duplicate (processed-message ids).
    """

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a stable subscriber ``name`` and a ``role``."""
        ...

    def publish(self, message: Message) -> None:
        """Hand one message over; raise if it could not be, so the relay retries it."""
        ...

    def start(self) -> None:
        """Begin consuming (a no-op for buses that deliver inside ``publish``)."""
        ...

    def close(self) -> None:
        """Stop consuming and release connections."""
        ...
