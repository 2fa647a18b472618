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
duplicate is a no-op, and an event that stays ahead ends in the bus's dead letters, from which
``eventhive events dead --retry`` hands it back once its predecessor is there. A replica rebuilt
from a replay (``eventhive events replay``) receives every event in stream order.
"""

from __future__ import annotations

from datetime import datetime

from eventhive_core.contracts.codec import to_domain_event
from eventhive_core.contracts.envelope import Envelope
from eventhive_core.domain.events import TicketCreated, TicketUpdated
from eventhive_core.domain.ids import TicketId, UserId
from eventhive_core.domain.money import Money
from eventhive_core.domain.ticket import Ticket
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler

__all__ = [
    "ReplicaBehind",
    "apply_ticket_event",
    "ticket_replica_subscribers",
]

#: Subscriber names under the role, e.g. ``orders.replicate_ticket_created``.
REPLICATE_TICKET_CREATED = "replicate_ticket_created"
REPLICATE_TICKET_UPDATED = "replicate_ticket_updated"


class ReplicaBehind(RuntimeError):
    """An event arrived before its predecessor: the replica cannot apply it yet.

    Raised from a subscriber, it makes the bus deliver the event again later.

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

    Args:
        uow: The subscriber's unit of work (the caller commits).
        event: ``ticket:created`` or ``ticket:updated``.
        occurred_at: When the change happened at the source (the replica's ``created_at`` for
            a ticket it learns of).

    Raises:
        ReplicaBehind: The event is ahead of the replica (see the module's docstring).
    """
    current = uow.tickets.get(event.id)
    have = None if current is None else current.version
    if have is not None and have >= event.version:
        return False  # a duplicate, or older than what the replica holds
    if (have is None and not isinstance(event, TicketCreated)) or (have is not None and event.version != have + 1):
        raise ReplicaBehind(f"ticket {event.id}", have, event.version)
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
        uow.tickets.save(current, replica)
    return True


def _replicate_ticket(envelope: Envelope, uow: UnitOfWork) -> None:
    event = to_domain_event(envelope)
    if not isinstance(event, TicketCreated | TicketUpdated):
        raise TypeError(f"A ticket replica takes ticket:created and ticket:updated, not {envelope.type}")
    apply_ticket_event(uow, event, envelope.occurred_at)


def ticket_replica_subscribers(role: str) -> list[Subscription[SubscriberHandler]]:
    """Return the subscribers that keep this service's ticket replica, under ``role``.

    Register them where tickets are another service's records (the orders service of a split);
    beside the tickets' own service they would find every event already applied.
    """
    return [
        Subscription(f"{role}.{REPLICATE_TICKET_CREATED}", TicketCreated.type, role, _replicate_ticket),
        Subscription(f"{role}.{REPLICATE_TICKET_UPDATED}", TicketUpdated.type, role, _replicate_ticket),
    ]
