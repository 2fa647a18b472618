"""The read side as the Hive offers it: the storage's queries with "now", page limits and id checks."""

from __future__ import annotations

from eventhive_core.clock import Clock
from eventhive_core.domain.errors import NotAuthorized, NotFound
from eventhive_core.domain.ids import is_valid_id
from eventhive_core.ports.storage import ReadQueries
from eventhive_core.ports.views import OrderView, Page, TicketView, UserView, clamp_page_size


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
        """A buyer's orders in any status, oldest first."""
        return self._read.orders_for_user(user_id, clamp_page_size(limit), cursor)

    def order(self, order_id: str, viewer_id: str | None = None) -> OrderView:
        """One order; NotFound for unknown or malformed ids, NotAuthorized when ``viewer_id`` is not the buyer."""
        view = self._read.order(order_id) if is_valid_id(order_id) else None
        if view is None:
            raise NotFound()
        if viewer_id is not None and view.buyer_id != viewer_id:
            raise NotAuthorized()
        return view

    def user(self, user_id: str) -> UserView:
        """One user; NotFound when unknown."""
        view = self._read.user(user_id) if is_valid_id(user_id) else None
        if view is None:
            raise NotFound()
        return view
