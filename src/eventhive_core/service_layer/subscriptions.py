"""Subscribers in the service layer: typed reactions to events, and their wiring onto a bus.

A subscriber is a :class:`~eventhive_core.ports.event_bus.Subscription` whose handler takes the
envelope and an open unit of work. :func:`make_delivery` turns it into the callback a bus
calls; :func:`subscribe_all` does that for every subscriber of a Hive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from eventhive_core.contracts.envelope import Envelope
from eventhive_core.domain.events import DomainEvent
from eventhive_core.ports.event_bus import Delivery, EventBus, Subscription
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import UnitOfWork

if TYPE_CHECKING:
    from eventhive_core.service_layer.services import Services

__all__ = ["SubscriberHandler", "make_delivery", "on_event", "subscribe_all"]

log = logging.getLogger(__name__)

#: A subscriber's reaction to one event, run in its own unit of work; raise to have it delivered again.
SubscriberHandler: TypeAlias = Callable[[Envelope, UnitOfWork], None]

EventT = TypeVar("EventT", bound=DomainEvent)


def on_event(
    name: str,
    role: str,
    event_class: type[EventT],
    react: Callable[[EventT, UnitOfWork], None],
) -> Subscription[SubscriberHandler]:
    """Return a subscriber that hands ``react`` the typed event instead of the envelope.

    The envelope is read through its contract (older schema versions are upcast first), so the
    reaction never digs into ``envelope.data``. The event type subscribed to is the class's own.

    Raises:
        TypeError: (when an event arrives) it does not turn into ``event_class``.

    Examples:
        >>> from eventhive_core.domain.events import OrderCreated
        >>> subscriber = on_event("audit.orders", "audit", OrderCreated, lambda event, uow: None)
        >>> subscriber.event_type, subscriber.role
        ('order:created', 'audit')
    """
    from eventhive_core.contracts.codec import to_domain_event

    def handler(envelope: Envelope, uow: UnitOfWork) -> None:
        event = to_domain_event(envelope)
        if not isinstance(event, event_class):
            raise TypeError(f"Subscriber {name} reacts to {event_class.__name__}, got {type(event).__name__}")
        react(event, uow)

    return Subscription(name=name, event_type=event_class.type, role=role, handler=handler)


def make_delivery(subscriber: Subscription[SubscriberHandler], services: Services) -> Delivery:
    """Return the callback a bus calls for ``subscriber``: parse, drop duplicates, react, commit.

    The processed-message id is inserted in the same transaction as the reaction's own writes,
    so a redelivered event changes nothing, and a failed reaction is retried whole.
    """
    from eventhive_core.contracts.codec import parse_message

    def deliver(message: Message) -> None:
        envelope = parse_message(message)
        with services.storage.unit_of_work() as uow:
            if not uow.processed.add(subscriber.name, message.id, services.clock.now()):
                log.debug("Dropped duplicate %s (%s) for %s", message.type, message.id, subscriber.name)
                return
            subscriber.handler(envelope, uow)
            uow.commit()

    return deliver


def subscribe_all(bus: EventBus, subscribers: Iterable[Subscription[SubscriberHandler]], services: Services) -> None:
    """Subscribe each subscriber to ``bus`` under its name and role, with its delivery callback.

    Raises:
        ValueError: Two subscribers share a name (the bus refuses the second).
    """
    for subscriber in subscribers:
        bus.subscribe(subscriber.name, subscriber.event_type, subscriber.role, make_delivery(subscriber, services))
