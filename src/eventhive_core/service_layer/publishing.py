"""Turning domain events into outbox rows inside the caller's unit of work."""

from __future__ import annotations

from eventhive_core.contracts.codec import to_envelope, to_message
from eventhive_core.domain.events import DomainEvent
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.services import Services


def record(uow: UnitOfWork, services: Services, *events: DomainEvent) -> None:
    """Write ``events`` to the outbox in ``uow``'s transaction.

    They are published only after that transaction commits, by the relay; a rollback
    publishes nothing.
    """
    now = services.clock.now()
    for event in events:
        envelope = to_envelope(event, producer=services.producer, occurred_at=now)
        uow.outbox.add(to_message(envelope), now)
