"""Replicas one service keeps of another's records, applied strictly in version order.

When the platform runs as separate services, each owns its records and keeps replicas of what it
needs from the others, fed by their events; the orders service keeps the tickets it sells units
of. Every event carries its record's version (0 when created, +1 per change), and an event is
applied only on top of its predecessor:

- it creates the record, or its version is the replica's + 1: applied, in the subscriber's unit
  of work (with the processed-message record, so a redelivery changes nothing);
- the replica is already at or past its version: a duplicate or an older event, dropped;
- it is ahead (its predecessor has not been applied yet): :class:`ReplicaBehind` is raised, so
  the bus delivers it again later with back-off, by which time the predecessor has arrived.

The original applied ``ticket:created`` blindly (a duplicate failed forever) and ``ticket:updated``
only at exactly version − 1, throwing otherwise, with nothing to end the redeliveries. Here a
duplicate is a no-op, and an event ahead waits: ``ReplicaBehind`` is a ``DeliverLater``, which
the NATS bus delivers again for up to an hour (a predecessor held by a crashed process comes
back after its ack wait) before it goes to the dead letters, from which
``eventhive events dead --retry`` hands it back once its predecessor is there. A replica rebuilt
from a replay (``eventhive events replay``) receives every event in stream order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from eventhive_core.contracts.codec import to_domain_event
from eventhive_core.contracts.envelope import Envelope
from eventhive_core.domain.events import OrderCancelled, OrderCompleted, OrderCreated, TicketCreated, TicketUpdated
from eventhive_core.domain.ids import OrderId, TicketId, UserId
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.ticket import Ticket
from eventhive_core.ports.event_bus import DeliverLater, Subscription
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler

__all__ = [
    "ReplicaBehind",
    "apply_order_event",
    "apply_ticket_event",
    "order_replica_subscribers",
    "ticket_replica_subscribers",
]

#: Subscriber names under the role, e.g. ``orders.replicate_ticket_created``.
REPLICATE_TICKET_CREATED = "replicate_ticket_created"
REPLICATE_TICKET_UPDATED = "replicate_ticket_updated"


class ReplicaBehind(DeliverLater):
    """An event arrived before its predecessor: the replica cannot apply it yet.

    Raised from a subscriber, it makes the bus deliver the event again later (a DeliverLater:
    the bus waits for the predecessor much longer than it retries a failure).

    Attributes:
        record: What the replica is of, e.g. ``ticket 0192...``.
        have: The replica's version, or None when it has no such record yet.
        event_version: The version the event brings.
    """

    def __init__(self, record: str, have: int | None, event_version: int) -> None:
        self.record, self.have, self.event_version = record, have, event_version
        held = "no replica" if have is None else f"the replica at version {have}"
        super().__init__(f"{record}: version {event_version} arrived with {held}; its predecessor comes first")


def apply_ticket_event(uow: UnitOfWork, event: TicketCreated | TicketUpdated, occurred_at: datetime) -> bool:
    """Apply a ticket's event to this service's replica of it, in version order; return whether it changed.

    An edit that lowers the capacity below the units this service has seen taken is applied all
    the same (the storage's ``over_commit``): the orders keep their units, and new ones are
    refused until they fit. Refusing the event instead would leave it undeliverable forever.

    Args:
        uow: The subscriber's unit of work (the caller commits).
        event: ``ticket:created`` or ``ticket:updated``.
        occurred_at: When the change happened at the source (the replica's ``created_at`` for
            a ticket it learns of).

    Raises:
        ReplicaBehind: The event is ahead of the replica (see the module's docstring).
    """
    current = uow.tickets.get(event.id)
    if not _in_order(f"ticket {event.id}", current, event.version, isinstance(event, TicketCreated)):
        return False
    # Both events carry the ticket's whole state at their version.
    replica = Ticket(
        id=TicketId(event.id),
        title=event.title,
        price=Money(event.price_minor, event.currency),
        owner_id=UserId(event.owner_id),
        created_at=occurred_at if current is None else current.created_at,
        capacity=event.capacity,
        version=event.version,
    )
    if current is None:
        uow.tickets.add(replica)
    else:
        uow.tickets.save(current, replica, over_commit=True)
    return True


def apply_order_event(
    uow: UnitOfWork, event: OrderCreated | OrderCancelled | OrderCompleted, occurred_at: datetime
) -> bool:
    """Apply an order's event to this service's replica of it, in version order; return whether it changed.

    A new order takes its units in the replica's ticket even beyond the capacity the replica
    knows (the orders service, where the order was placed, is the truth of what fits); its
    cancellation gives them back, its completion sells them.

    Raises:
        ReplicaBehind: The event is ahead of the replica, or the order's ticket is not replicated yet.
    """
    current = uow.orders.get(event.id)
    if not _in_order(f"order {event.id}", current, event.version, isinstance(event, OrderCreated)):
        return False
    if isinstance(event, OrderCreated):
        if not uow.tickets.reserve(event.ticket_id, event.quantity, occurred_at, over_commit=True):
            raise ReplicaBehind(f"order {event.id} (its ticket {event.ticket_id} is not replicated yet)", None, 0)
        uow.orders.add(
            Order(
                id=OrderId(event.id),
                ticket_id=TicketId(event.ticket_id),
                buyer_id=UserId(event.buyer_id),
                status=OrderStatus(event.status),
                expires_at=event.expires_at,
                created_at=occurred_at,
                amount=Money(event.amount_minor, event.currency),
                quantity=event.quantity,
                version=event.version,
            )
        )
        return True
    assert current is not None  # _in_order raised otherwise
    if isinstance(event, OrderCancelled):
        after = replace(current, status=OrderStatus.CANCELLED, cancel_reason=CancelReason(event.reason))
    else:
        after = replace(current, status=OrderStatus.COMPLETE)
    uow.orders.save(current, replace(after, version=event.version))
    return True


def _in_order(record: str, current: Ticket | Order | None, version: int, creates: bool) -> bool:
    """Tell whether an event at ``version`` applies next; False for a duplicate or an older one.

    Raises:
        ReplicaBehind: Its predecessor has not been applied yet.
    """
    have = None if current is None else current.version
    if have is not None and have >= version:
        return False  # a duplicate, or older than what the replica holds
    if (have is None and not creates) or (have is not None and version != have + 1):
        raise ReplicaBehind(record, have, version)
    return True


def _replicate(envelope: Envelope, uow: UnitOfWork) -> None:
    event = to_domain_event(envelope)
    if isinstance(event, TicketCreated | TicketUpdated):
        apply_ticket_event(uow, event, envelope.occurred_at)
    elif isinstance(event, OrderCreated | OrderCancelled | OrderCompleted):
        apply_order_event(uow, event, envelope.occurred_at)
    else:
        raise TypeError(f"A replica takes ticket and order events, not {envelope.type}")


def ticket_replica_subscribers(role: str) -> list[Subscription[SubscriberHandler]]:
    """Return the subscribers that keep this service's ticket replica, under ``role``.

    Register them where tickets are another service's records (the orders service of a split);
    beside the tickets' own service they would find every event already applied.
    """
    return [
        Subscription(f"{role}.{REPLICATE_TICKET_CREATED}", TicketCreated.type, role, _replicate),
        Subscription(f"{role}.{REPLICATE_TICKET_UPDATED}", TicketUpdated.type, role, _replicate),
    ]


def order_replica_subscribers(role: str) -> list[Subscription[SubscriberHandler]]:
    """Return the subscribers that keep this service's order replica, under ``role``.

    The tickets service keeps one to know what is held and sold; the payments service to charge
    for orders; the expiration service to know which holds to expire.
    """
    return [
        Subscription(f"{role}.replicate_{event.type.replace(':', '_')}", event.type, role, _replicate)
        for event in (OrderCreated, OrderCancelled, OrderCompleted)
    ]
