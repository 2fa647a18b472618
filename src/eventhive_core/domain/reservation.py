"""The reservation rule as pure functions: the specification every storage must agree with.

Rule: units held by live orders plus units sold never exceed the ticket's capacity. An order is
*live* while it is ``created`` or ``awaiting:payment`` and its hold has not run out; so a hold
past ``expires_at`` frees its units at once, whether or not a sweeper has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from eventhive_core.domain.order import HOLDING_STATUSES, Order, OrderStatus


def is_live(status: OrderStatus, expires_at: datetime, now: datetime) -> bool:
    """Tell whether an order still holds its units.

    Examples:
        >>> from datetime import UTC, datetime, timedelta
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> is_live(OrderStatus.CREATED, expires_at=t, now=t)
        False
        >>> is_live(OrderStatus.AWAITING_PAYMENT, expires_at=t + timedelta(seconds=1), now=t)
        True
        >>> is_live(OrderStatus.COMPLETE, expires_at=t + timedelta(seconds=1), now=t)
        False
    """
    return status in HOLDING_STATUSES and expires_at > now


@dataclass(frozen=True, slots=True)
class Units:
    """How the units of one ticket are taken at one instant.

    Attributes:
        capacity: Units for sale in all.
        held: Units held by live orders.
        sold: Units in complete orders.
    """

    capacity: int
    held: int
    sold: int

    @property
    def free(self) -> int:
        """Units a new order could take now.

        Examples:
            >>> Units(capacity=10, held=3, sold=2).free
            5
        """
        return max(self.capacity - self.held - self.sold, 0)

    def fits(self, quantity: int) -> bool:
        """Tell whether an order for ``quantity`` units may be placed.

        Examples:
            >>> Units(capacity=1, held=0, sold=0).fits(1), Units(capacity=1, held=1, sold=0).fits(1)
            (True, False)
        """
        return quantity >= 1 and self.held + self.sold + quantity <= self.capacity


def count_units(capacity: int, orders: Iterable[Order], now: datetime) -> Units:
    """Count held and sold units of one ticket from its orders (the rule, straight from its definition)."""
    held = sold = 0
    for order in orders:
        if order.status is OrderStatus.COMPLETE:
            sold += order.quantity
        elif is_live(order.status, order.expires_at, now):
            held += order.quantity
    return Units(capacity=capacity, held=held, sold=sold)
