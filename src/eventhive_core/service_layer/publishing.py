"""Turning domain events into outbox rows inside the caller's unit of work."""

from __future__ import annotations

from eventhive_core.contracts.codec import to_envelope, to_message
from eventhive_core.domain.events import DomainEvent
from eventhive_core.observability.request_context import current_request_id
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.services import Services


def record(uow: UnitOfWork, services: Services, *events: DomainEvent) -> None:
    """Write ``events`` to the outbox in ``uow``'s transaction.

    They are published only after that transaction commits, by the relay; a rollback
    publishes nothing. Each envelope carries the request id bound in this context, if any
    (the HTTP request's, or that of the event being handled), so the events it causes can be
    followed through the logs.
    """
    now = services.clock.now()
    request_id = current_request_id()
    for event in events:
        envelope = to_envelope(event, producer=services.producer, occurred_at=now, request_id=request_id)
        uow.outbox.add(to_message(envelope), now)
