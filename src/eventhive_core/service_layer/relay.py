"""The outbox relay: claim unsent events, publish them, mark them sent.

Delivery is at least once: a crash after publishing and before marking republishes the same
event id later, and subscribers drop the duplicate.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from eventhive_core.contracts.envelope import request_id_in
from eventhive_core.observability import metrics
from eventhive_core.observability.request_context import request_id_bound
from eventhive_core.ports.event_bus import EventBus, publish_all
from eventhive_core.ports.messages import OutboxBacklog
from eventhive_core.service_layer.services import Services

log = logging.getLogger(__name__)

#: How long a claim lasts before another relay may take the row over.
LEASE = timedelta(seconds=30)
#: Retry delay after the n-th failure: 1 s, 2 s, 4 s ... capped at 5 minutes.
MAX_BACKOFF = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """Return how long to wait before retrying a row that failed ``attempts`` times.

    Examples:
        >>> backoff(1), backoff(3), backoff(30)
        (datetime.timedelta(seconds=1), datetime.timedelta(seconds=4), datetime.timedelta(seconds=300))
    """
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def relay_once(services: Services, bus: EventBus, limit: int | None = None) -> int:
    """Publish one batch of unsent events; return how many were published."""
    now = services.clock.now()
    batch = limit or services.settings.outbox_batch_size
    with services.storage.unit_of_work() as uow:
        claimed = uow.outbox.claim(now, now + LEASE, batch)
        uow.commit()
    if not claimed:
        return 0
    sent: list[str] = []
    failed: list[tuple[str, int, str]] = []
    for record, exc in zip(claimed, publish_all(bus, [record.message for record in claimed]), strict=True):
        message = record.message
        metrics.event_published(message.type, sent=exc is None)
        # Each line carries the request that caused the event, so a purchase can be followed here too.
        with request_id_bound(request_id_in(message.body)):
            if exc is not None:
                log.warning("Publishing %s (%s) failed: %s", message.type, message.id, exc)
                failed.append((message.id, record.attempts + 1, f"{type(exc).__name__}: {exc}"))
            else:
                log.info("Published %s (%s)", message.type, message.id)
                sent.append(message.id)
    with services.storage.unit_of_work() as uow:
        done = services.clock.now()
        if sent:
            uow.outbox.mark_sent(sent, done)
        for message_id, attempts, error in failed:
            uow.outbox.mark_failed(
                message_id, error[:2000], done + backoff(attempts), services.settings.outbox_max_attempts
            )
        uow.commit()
    return len(sent)


def outbox_backlog(services: Services) -> OutboxBacklog:
    """Return how many events wait in the outbox and when the oldest occurred (one read-only query).

    A storage plugin written before ``Outbox.backlog`` existed still reports its count
    (``Outbox.pending``), without the oldest event's time.
    """
    with services.storage.unit_of_work() as uow:
        backlog = getattr(uow.outbox, "backlog", None)
        if backlog is None:
            return OutboxBacklog(uow.outbox.pending(), None)
        result: OutboxBacklog = backlog()
        return result


def relay_all(services: Services, bus: EventBus, max_batches: int = 1000) -> int:
    """Publish until nothing is ready (or ``max_batches`` ran); return how many were published.

    A batch smaller than the batch size took everything ready: the round ends there, without one
    more claim to find the outbox empty (what arrives meanwhile nudges the next round).
    """
    total = 0
    for _ in range(max_batches):
        published = relay_once(services, bus)
        total += published
        if published < services.settings.outbox_batch_size:
            break
    return total
