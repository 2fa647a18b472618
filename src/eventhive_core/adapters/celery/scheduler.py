"""The ``celery`` expiry scheduler: one ETA task per order, sent after the order's commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventhive_core.adapters.celery.sender import TaskSender
from eventhive_core.adapters.celery.task_names import EXPIRE_ORDER
from eventhive_core.ports.scheduler import ExpireCallback

if TYPE_CHECKING:
    from celery import Celery


class CeleryScheduler:
    """Schedules ``eventhive.expire_order`` with ``eta`` at the hold's end (plus the grace).

    ``schedule`` is called by the ``expiration.schedule_expiry`` subscriber, so only once the
    reserving transaction committed and its ``order:created`` event was relayed: a rolled-back
    order never gets a task. The ETA is the absolute, aware UTC time (never a countdown), so a
    message that waited in the broker still fires on time. Workers fire the tasks; this process
    fires nothing, which is why :meth:`start` does nothing.

    Args:
        sender: Where tasks go (queue, broker).
    """

    name = "celery"

    def __init__(self, sender: TaskSender) -> None:
        self.sender = sender

    def __repr__(self) -> str:
        return f"CeleryScheduler(queue={self.sender.options.queue!r})"

    def attach(self, celery_app: Celery) -> None:
        """Send through ``celery_app`` (called by ``bind_hive``)."""
        self.sender.attach(celery_app)

    def schedule(self, order_id: str, fire_at: datetime) -> None:
        """Send ``eventhive.expire_order(order_id, fire_at_iso)`` to run at ``fire_at``.

        Raises:
            ValueError: ``fire_at`` is naive.
        """
        if fire_at.utcoffset() is None:
            raise ValueError(f"fire_at must be an aware datetime (UTC), got {fire_at!r}")
        eta = fire_at.astimezone(UTC)
        self.sender.send(EXPIRE_ORDER, [order_id, eta.isoformat()], eta=eta)

    def start(self, expire: ExpireCallback) -> None:
        """Do nothing: Celery workers run the expiries, not this process."""

    def close(self) -> None:
        """Release the sender's own connections."""
        self.sender.close()


__all__ = ["CeleryScheduler"]
