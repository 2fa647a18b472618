"""Expiry across services: the expiration service asks, the orders service decides.

In a split platform the expiration service keeps a replica of the orders (fed by
``order:created``, ``order:cancelled`` and ``order:completed``) and never touches the orders
service's database. When a replica order's hold is over, plus the policy's grace, it publishes
``expiration:due``; the orders service then expires the order if, by its own clock, the hold is
over and the order still holds (the original's expiration service judged by its own clock and
never cancelled a job when an order was paid or cancelled: flaw 20).

The expiration service asks at the hold's end (a timer per ``order:created``, as the whole
platform schedules expiries) and, for whatever a timer missed (a restart, a lost event, clocks
that disagree), from a loop over its replica that asks again for every order still holding past
its end, at most once per ``repeat_after``. A request is an event like any other: written to the
outbox, relayed, delivered at least once; the orders service's answer (``order:cancelled``)
updates the replica, which then stops asking. Duplicates are harmless: expiring an order twice
changes nothing the second time.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Final

from eventhive_core.domain.events import ExpirationDue
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.order import HOLDING_STATUSES, Order
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler, on_event
from eventhive_core.service_layer.orders import expire_in
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services

log = logging.getLogger(__name__)

#: The orders service's subscriber; its name keys processed-message records, so it never changes.
EXPIRE_WHEN_DUE: Final = "orders.expire_when_due"
#: Replica orders one pass of the loop looks at (oldest hold first).
REQUEST_BATCH = 500


class ExpiryRequests:
    """The expiration service's requests: which holds to ask the orders service to expire, and when.

    Args:
        services: The expiration service's services (its storage holds the order replica).
        repeat_after: How long to wait for an answer before asking again for the same order.
    """

    def __init__(self, services: Services, repeat_after: timedelta) -> None:
        self._services = services
        self._repeat_after = repeat_after
        self._asked: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def request_due(self) -> int:
        """Ask for every replica order whose hold and grace are over and not asked for lately; return how many."""
        services = self._services
        now = services.clock.now()
        with services.storage.unit_of_work() as uow:
            due = uow.orders.due(now - services.expiration.grace, REQUEST_BATCH)
            asked = self._ask(uow, due, now)
            uow.commit()
        with self._lock:
            # Forget orders no longer due here (answered): the map stays as small as the backlog.
            still_due = {order.id for order in due}
            self._asked = {order_id: at for order_id, at in self._asked.items() if order_id in still_due}
        return asked

    def request(self, order_id: str) -> bool:
        """Ask for one order (its timer fired) if its replica still holds past the hold's end; return whether asked."""
        services = self._services
        now = services.clock.now()
        with services.storage.unit_of_work() as uow:
            order = uow.orders.get(order_id)
            if order is None or order.status not in HOLDING_STATUSES or not is_due(order, now):
                return False
            asked = self._ask(uow, [order], now) > 0
            uow.commit()
        return asked

    def _ask(self, uow: UnitOfWork, orders: list[Order], now: datetime) -> int:
        with self._lock:
            fresh = [o for o in orders if (at := self._asked.get(o.id)) is None or now - at >= self._repeat_after]
            for order in fresh:
                self._asked[order.id] = now
        record(uow, self._services, *(ExpirationDue(order_id=o.id, due_at=o.expires_at) for o in fresh))
        if fresh:
            log.debug("Asked the orders service to expire %d order(s)", len(fresh))
        return len(fresh)


def expire_when_due(event: ExpirationDue, uow: UnitOfWork, services: Services) -> None:
    """Expire the order the expiration service asks about, if by this service's clock its hold is over.

    An order that is final, unknown or not due yet here is left alone: the expiration service
    asks again while its replica still shows the hold, and the sweeper covers the rest.
    """
    order = uow.orders.get(event.order_id)
    if order is None or order.status not in HOLDING_STATUSES:
        return
    if not is_due(order, services.clock.now()):
        log.info("Expiry of %s asked for before its hold ended here (clocks differ?); it will be asked again", order.id)
        return
    expire_in(uow, services, order)


def expire_when_due_subscriber(services: Services) -> Subscription[SubscriberHandler]:
    """Return ``orders.expire_when_due``: role ``orders``, on ``expiration:due``."""
    return on_event(EXPIRE_WHEN_DUE, "orders", ExpirationDue, lambda event, uow: expire_when_due(event, uow, services))


__all__ = ["EXPIRE_WHEN_DUE", "REQUEST_BATCH", "ExpiryRequests", "expire_when_due", "expire_when_due_subscriber"]
