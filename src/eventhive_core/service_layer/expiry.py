"""Expiry in the service layer: scheduling each new order's expiry, and carrying out what schedulers fire.

``expiration.schedule_expiry`` reacts to ``order:created`` (once the order is committed and
relayed) by telling the scheduler when the hold, plus the policy's grace, runs out. Scheduling
is best effort: correctness comes from lazy expiry and the sweeper.

A scheduler (a Celery ETA task, a timer) fires one expiry per order at the hold's end plus the
grace. While it keeps up, each firing cancels its own order. When firings run late, the process
is behind a burst of expiries: one late firing that does cancel its order then sweeps every due
hold (one set-based transaction per batch instead of one transaction per order) and notes when
that sweep started, so the firings still queued for holds that ended before then have nothing to
do and answer ``swept`` without touching the storage.

This is a shortcut, never a rule: a late firing that finds no sweep still expires its own order,
and the sweeper covers whatever a firing missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from eventhive_core.clock import Clock
from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError
from eventhive_core.domain.events import OrderCreated
from eventhive_core.domain.expiration import ExpirationPolicy
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler, on_event
from eventhive_core.service_layer.orders import ExpireResult

log = logging.getLogger(__name__)

#: How late an expiry may run before its process sweeps every due hold at once.
CATCH_UP_AFTER = timedelta(milliseconds=500)


class CatchUp:
    """One process's catch-up state: who sweeps now, and up to when holds are known final.

    Attributes:
        lock: Held while one firing sweeps every due hold.
        swept_until: Every hold whose ``expires_at`` is at or before this time was final when the
            last catch-up sweep of this process finished (None before the first).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.swept_until: datetime | None = None

    def covers(self, due: datetime) -> bool:
        """Tell whether a hold ending at or before ``due`` is known final."""
        swept = self.swept_until
        return swept is not None and due <= swept

    def advance(self, until: datetime) -> None:
        """Record a finished sweep that started at ``until``."""
        if self.swept_until is None or until > self.swept_until:
            self.swept_until = until


class ScheduledExpiries:
    """Carries out expiries fired by a scheduler, catching up when they run late.

    Args:
        expire: Expires one order if it is due (the Hive's ``expire``).
        sweep: Expires every due hold; returns how many (the Hive's ``sweep``).
        clock: The Hive's clock.
        catch_up_after: How late a firing may run before it sweeps.
    """

    def __init__(
        self,
        expire: Callable[[str], ExpireResult],
        sweep: Callable[[], int],
        clock: Clock,
        catch_up_after: timedelta = CATCH_UP_AFTER,
    ) -> None:
        self._expire = expire
        self._sweep = sweep
        self._clock = clock
        self._catch_up_after = catch_up_after
        self.catch_up = CatchUp()

    def fire(self, order_id: str, fire_at: datetime | None) -> ExpireResult:
        """Expire ``order_id``, as scheduled for ``fire_at`` (None: no catch-up); return what happened.

        A firing more than ``catch_up_after`` after ``fire_at`` that cancels its order sweeps
        every due hold and remembers when that sweep started; a later firing whose ``fire_at``
        is not after that returns ``swept`` at once, since its hold ended before the sweep
        (``fire_at`` is never before the hold's end). One sweep at a time: late firings wait for
        a running one instead of racing it for the same rows.
        """
        late = fire_at is not None and self._clock.now() - fire_at > self._catch_up_after
        if late:
            assert fire_at is not None  # for mypy: ``late`` implies it
            with self.catch_up.lock:
                pass  # a sweep in progress is about to cancel this order too: let it finish first
            if self.catch_up.covers(fire_at):
                return ExpireResult.SWEPT
        result = self._expire(order_id)
        if late and result is ExpireResult.EXPIRED and self.catch_up.lock.acquire(blocking=False):
            try:
                started = self._clock.now()
                swept = self._sweep()
            except (ConcurrencyConflict, TransientStorageError) as exc:
                # Only a shortcut: the remaining firings and the sweeper still expire every hold.
                log.info("Catch-up sweep after %s gave way to a concurrent writer: %s", order_id, exc)
            else:
                self.catch_up.advance(started)
                log.info("Expiry of %s ran late (due %s): swept %d more due hold(s)", order_id, fire_at, swept)
            finally:
                self.catch_up.lock.release()
        return result


__all__ = [
    "CATCH_UP_AFTER",
    "SCHEDULE_EXPIRY",
    "CatchUp",
    "ScheduledExpiries",
    "schedule_expiry",
    "schedule_expiry_subscriber",
]


#: The subscriber's name; it keys processed-message records in existing databases, so it never changes.
SCHEDULE_EXPIRY: Final = "expiration.schedule_expiry"


def schedule_expiry(event: OrderCreated, scheduler: ExpiryScheduler, policy: ExpirationPolicy) -> None:
    """Ask ``scheduler`` to expire the new order when its hold ends, plus the policy's grace."""
    scheduler.schedule(event.id, policy.fire_at(event.expires_at))


def schedule_expiry_subscriber(scheduler: ExpiryScheduler, policy: ExpirationPolicy) -> Subscription[SubscriberHandler]:
    """Return ``expiration.schedule_expiry``: role ``expiration``, on ``order:created``.

    It needs no storage: a timer set twice fires once (or twice, on a scheduler that does not
    merge them), and an expiry run twice changes nothing the second time. So its deliveries
    write no processed-message row and open no transaction: one fewer per relay batch.
    """

    def react(event: OrderCreated, uow: UnitOfWork) -> None:
        schedule_expiry(event, scheduler, policy)

    return on_event(SCHEDULE_EXPIRY, "expiration", OrderCreated, react, needs_storage=False)
