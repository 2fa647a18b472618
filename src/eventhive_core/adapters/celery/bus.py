"""The ``celery`` event bus: one ``eventhive.deliver_event`` task per (event, subscriber)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventhive_core.adapters.celery.sender import TaskSender
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT
from eventhive_core.ports.event_bus import Delivery
from eventhive_core.ports.messages import Message

if TYPE_CHECKING:
    from celery import Celery


class UnknownSubscriber(LookupError):
    """A worker got an event for a subscriber its Hive does not have (plugins differ between processes)."""


@dataclass(frozen=True, slots=True)
class CelerySubscription:
    """One subscriber known to the bus.

    Attributes:
        name: Stable, unique name (the key of its processed-message ids).
        event_type: The subject it reacts to.
        role: The component it belongs to.
        deliver: The callback a worker calls (dedupe, reaction, commit).
    """

    name: str
    event_type: str
    role: str
    deliver: Delivery


class CeleryEventBus:
    """Publishes each event as one task per subscriber; workers call the subscriber.

    Each subscriber gets its own task, so one that fails is retried alone (Celery retries with
    backoff) while the others are done. The relay marks the outbox row sent only once every task
    was handed to the broker; a crash in between sends them again with the same event id, and
    the processed-message ids drop the repeats. Every process (web, worker) must load the same
    plugins, because the publisher picks the subscribers and the worker runs them.

    Args:
        sender: Where tasks go (queue, broker).
    """

    name = "celery"

    def __init__(self, sender: TaskSender) -> None:
        self.sender = sender
        self._lock = threading.Lock()
        self._by_name: dict[str, CelerySubscription] = {}
        self._by_type: dict[str, tuple[CelerySubscription, ...]] = {}

    def __repr__(self) -> str:
        return f"CeleryEventBus(queue={self.sender.options.queue!r}, subscribers={len(self._by_name)})"

    @property
    def subscriptions(self) -> tuple[CelerySubscription, ...]:
        """Every subscription, in registration order."""
        with self._lock:
            return tuple(self._by_name.values())

    def attach(self, celery_app: Celery) -> None:
        """Send through ``celery_app`` (called by ``bind_hive``)."""
        self.sender.attach(celery_app)

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a unique ``name``.

        Raises:
            ValueError: The name is empty or taken.
        """
        if not name:
            raise ValueError("A subscriber needs a name")
        with self._lock:
            if name in self._by_name:
                raise ValueError(
                    f"A subscriber named {name!r} is already registered; names must be unique because "
                    "processed-message ids are kept per name"
                )
            subscription = CelerySubscription(name, event_type, role, deliver)
            self._by_name[name] = subscription
            self._by_type[event_type] = (*self._by_type.get(event_type, ()), subscription)

    def publish(self, message: Message) -> None:
        """Send ``eventhive.deliver_event(body, subscriber)`` for each subscriber of ``message.type``.

        Raises:
            Exception: The broker refused or could not be reached; the relay retries the event.
        """
        with self._lock:
            subscribers = self._by_type.get(message.type, ())
        for subscription in subscribers:
            self.sender.send(
                DELIVER_EVENT, [message.body, subscription.name], task_id=f"{message.id}:{subscription.name}"
            )

    def deliver(self, subscriber: str, message: Message) -> None:
        """Run subscriber ``subscriber`` on ``message`` in this process (what the worker task does).

        Raises:
            UnknownSubscriber: This Hive has no subscriber of that name.
        """
        with self._lock:
            subscription = self._by_name.get(subscriber)
        if subscription is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownSubscriber(
                f"No subscriber named {subscriber!r} in this worker (known: {known}); load the same plugins in "
                "every process"
            )
        subscription.deliver(message)

    def start(self) -> None:
        """Do nothing: workers consume, not this object."""

    def close(self) -> None:
        """Release the sender's own connections."""
        self.sender.close()


__all__ = ["CeleryEventBus", "CelerySubscription", "UnknownSubscriber"]
