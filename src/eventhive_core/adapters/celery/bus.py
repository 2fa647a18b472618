"""The ``celery`` event bus: one ``eventhive.deliver_event`` task per (event, subscriber)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventhive_core.adapters.celery.sender import TaskSender
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT
from eventhive_core.deprecation import deprecated_names
from eventhive_core.ports.event_bus import Delivery, Subscription, SubscriptionTable
from eventhive_core.ports.messages import Message

if TYPE_CHECKING:
    from celery import Celery

    from eventhive_core.ports.event_bus import Subscription


class UnknownSubscriber(LookupError):
    """A worker got an event for a subscriber its Hive does not have (plugins differ between processes)."""


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
        self._table = SubscriptionTable()

    def __repr__(self) -> str:
        return f"CeleryEventBus(queue={self.sender.options.queue!r}, subscribers={len(self._table)})"

    @property
    def subscriptions(self) -> tuple[Subscription[Delivery], ...]:
        """Every subscription, in registration order."""
        return self._table.all()

    def attach(self, celery_app: Celery) -> None:
        """Send through ``celery_app`` (called by ``bind_hive``)."""
        self.sender.attach(celery_app)

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register ``deliver`` for ``event_type`` under a unique ``name``.

        Raises:
            ValueError: The name is empty or taken.
        """
        self._table.add(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        """Send ``eventhive.deliver_event(body, subscriber)`` for each subscriber of ``message.type``.

        Raises:
            Exception: The broker refused or could not be reached; the relay retries the event.
        """
        for subscription in self._table.of_type(message.type):
            self.sender.send(
                DELIVER_EVENT, [message.body, subscription.name], task_id=f"{message.id}:{subscription.name}"
            )

    def deliver(self, subscriber: str, message: Message) -> None:
        """Run subscriber ``subscriber`` on ``message`` in this process (what the worker task does).

        Raises:
            UnknownSubscriber: This Hive has no subscriber of that name.
        """
        subscription = self._table.get(subscriber)
        if subscription is None:
            known = ", ".join(self._table.names()) or "none"
            raise UnknownSubscriber(
                f"No subscriber named {subscriber!r} in this worker (known: {known}); load the same plugins in "
                "every process"
            )
        subscription.handler(message)

    def start(self) -> None:
        """Do nothing: workers consume, not this object."""

    def check_reachable(self, timeout: float) -> None:
        """Return once the broker accepted a new connection within ``timeout`` seconds.

        Raises:
            Exception: The broker refused or did not answer in time (kombu's error).
        """
        self.sender.check_broker(timeout)

    def close(self) -> None:
        """Release the sender's own connections."""
        self.sender.close()


__getattr__ = deprecated_names(
    __name__, {"CelerySubscription": (Subscription, "eventhive_core.ports.event_bus.Subscription")}
)


__all__ = ["CeleryEventBus", "UnknownSubscriber"]
