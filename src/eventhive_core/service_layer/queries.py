"""The read side as the Hive offers it: the storage's queries with "now", page limits and id checks.

Orders are settled on read. A hold whose ``expires_at`` has passed is free at once, whether or
not anything has recorded its expiry yet (lazy expiry), so a view of an unpaid order that is due
reports what it is: ``cancelled``, reason ``expired``. The query writes nothing: the expiry is
recorded, with its events, by the scheduler, the sweeper or the next command that touches the
order; until then the view keeps the stored ``version``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from eventhive_core.clock import Clock
from eventhive_core.domain.errors import NotAuthorized, NotFound
from eventhive_core.domain.ids import is_valid_id
from eventhive_core.domain.order import HOLDING_STATUSES, CancelReason, OrderStatus
from eventhive_core.domain.read_models import OrderView, Page, TicketView, UserView, clamp_page_size
from eventhive_core.ports.storage import ReadQueries


def settled(view: OrderView, now: datetime) -> OrderView:
    """Return ``view`` as it stands at ``now``: a due, unpaid hold is reported as expired.

    Examples:
        >>> from datetime import UTC, timedelta
        >>> from eventhive_core.domain.money import Money
        >>> from eventhive_core.domain.read_models import TicketSummary
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> held = OrderView("o", OrderStatus.CREATED, "u", 1, Money(100), expires_at=t, created_at=t,
        ...                  version=0, ticket=TicketSummary("t", "concert", Money(100), 0))
        >>> settled(held, t - timedelta(seconds=1)).status
        <OrderStatus.CREATED: 'created'>
        >>> due = settled(held, t)  # the hold ends at expires_at itself
        >>> due.status, due.cancel_reason, due.version
        (<OrderStatus.CANCELLED: 'cancelled'>, 'expired', 0)
    """
    if view.status not in HOLDING_STATUSES or now < view.expires_at:
        return view
    return replace(view, status=OrderStatus.CANCELLED, cancel_reason=str(CancelReason.EXPIRED))


class Queries:
    """Read-only questions about tickets, orders and users."""

    def __init__(self, read: ReadQueries, clock: Clock) -> None:
        self._read = read
        self._clock = clock

    def available_tickets(self, limit: int | None = None, cursor: str | None = None) -> Page[TicketView]:
        """Tickets with at least one free unit now, oldest first (default 50 a page, at most 100)."""
        return self._read.available_tickets(self._clock.now(), clamp_page_size(limit), cursor)

    def tickets_owned_by(self, owner_id: str, limit: int | None = None, cursor: str | None = None) -> Page[TicketView]:
        """A seller's tickets whatever their state, with held and sold units."""
        return self._read.tickets_owned_by(owner_id, self._clock.now(), clamp_page_size(limit), cursor)

    def ticket(self, ticket_id: str) -> TicketView:
        """One ticket; NotFound for unknown or malformed ids."""
        view = self._read.ticket(ticket_id, self._clock.now()) if is_valid_id(ticket_id) else None
        if view is None:
            raise NotFound()
        return view

    def orders_for_user(self, user_id: str, limit: int | None = None, cursor: str | None = None) -> Page[OrderView]:
        """A buyer's orders in any status, oldest first; due holds settled as expired."""
        page = self._read.orders_for_user(user_id, clamp_page_size(limit), cursor)
        now = self._clock.now()
        return replace(page, items=tuple(settled(view, now) for view in page.items))

    def order(self, order_id: str, viewer_id: str | None = None) -> OrderView:
        """One order, a due hold settled as expired.

        Raises:
            NotFound: Unknown or malformed id.
            NotAuthorized: ``viewer_id`` is given and is not the buyer.
        """
        view = self._read.order(order_id) if is_valid_id(order_id) else None
        if view is None:
            raise NotFound()
        if viewer_id is not None and view.buyer_id != viewer_id:
            raise NotAuthorized()
        return settled(view, self._clock.now())

    def user(self, user_id: str) -> UserView:
        """One user; NotFound when unknown."""
        view = self._read.user(user_id) if is_valid_id(user_id) else None
        if view is None:
            raise NotFound()
        return view
