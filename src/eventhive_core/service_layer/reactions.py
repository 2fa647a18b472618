"""The core's own reactions to integration events, wired by ``bootstrap`` like any plugin's.

``expiration.schedule_expiry``: once an order's creation is committed and relayed, arrange its
expiry. Scheduling is best effort (correctness comes from lazy expiry and the sweeper), so the
reaction only tells the scheduler when the hold, plus the policy's grace, runs out.
"""

from __future__ import annotations

from typing import Final

from eventhive_core.domain.events import OrderCreated
from eventhive_core.domain.expiration import ExpirationPolicy
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.subscriptions import SubscriberHandler, on_event

__all__ = ["SCHEDULE_EXPIRY", "schedule_expiry", "schedule_expiry_subscriber"]

#: The subscriber's name; it keys processed-message records in existing databases, so it never changes.
SCHEDULE_EXPIRY: Final = "expiration.schedule_expiry"


def schedule_expiry(event: OrderCreated, scheduler: ExpiryScheduler, policy: ExpirationPolicy) -> None:
    """Ask ``scheduler`` to expire the new order when its hold ends, plus the policy's grace."""
    scheduler.schedule(event.id, policy.fire_at(event.expires_at))


def schedule_expiry_subscriber(scheduler: ExpiryScheduler, policy: ExpirationPolicy) -> Subscription[SubscriberHandler]:
    """Return ``expiration.schedule_expiry``: role ``expiration``, on ``order:created``."""

    def react(event: OrderCreated, uow: UnitOfWork) -> None:
        schedule_expiry(event, scheduler, policy)

    return on_event(SCHEDULE_EXPIRY, "expiration", OrderCreated, react)
