"""What crosses an event bus and what an outbox stores: an envelope as JSON text, with its id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Message:
    """One integration event on its way to subscribers.

    Attributes:
        id: The event id (the envelope's ``id``), stable across redeliveries.
        type: The subject, e.g. ``order:created``.
        body: The whole envelope as JSON text.
    """

    id: str
    type: str
    body: str


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """An outbox row as the relay sees it.

    Attributes:
        message: The event to publish.
        occurred_at: When the change that produced it committed.
        attempts: Failed publish attempts so far.
        sent_at: When it was published, or None.
        last_error: The last publish failure, if any.
    """

    message: Message
    occurred_at: datetime
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None


class OutboxBacklog(NamedTuple):
    """What waits in an outbox: how many events, and since when.

    Attributes:
        events: Events not yet published (dead ones excluded).
        oldest: When the oldest of them occurred, or None when there is none.
    """

    events: int
    oldest: datetime | None
