"""The read side in SQL: views for listings and pages, keyset-paginated on ``(created_at, id)``.

Free units are ``capacity - sold - live holds``, where live holds are counted from orders whose
``expires_at`` is after ``now``: a hold that ran out frees its units in every listing at once,
before any sweeper runs. The stripes' ``held`` counters bound the live holds from above, so the
(indexed) count runs only for tickets whose counters say something is held. A ticket's counters
are summed over its stripes (a handful of rows on their primary key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eventhive_core.adapters.sqlalchemy.errors import translated_errors
from eventhive_core.adapters.sqlalchemy.repositories import live_held, stripe_sum
from eventhive_core.adapters.sqlalchemy.tables import UTCDateTime, orders, ticket_stripes, tickets, users
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import OrderStatus
from eventhive_core.domain.read_models import (
    Cursor,
    OrderView,
    Page,
    TicketSummary,
    TicketView,
    UserView,
    clamp_page_size,
)

T = TypeVar("T")


_HELD_COUNTED = stripe_sum(ticket_stripes.c.held, tickets.c.id)
_SOLD = stripe_sum(ticket_stripes.c.sold, tickets.c.id)
#: Not sold out: some stripe has sold less than its share (the shares add up to the capacity).
_NOT_SOLD_OUT = sa.exists().where(
    ticket_stripes.c.ticket_id == tickets.c.id, ticket_stripes.c.sold < ticket_stripes.c.capacity
)


def _held(now: datetime) -> sa.ColumnElement[int]:
    return sa.case((_HELD_COUNTED == 0, 0), else_=live_held(tickets.c.id, now))


def _ticket_columns(now: datetime) -> list[sa.ColumnElement[Any]]:
    return [*tickets.c, _SOLD.label("sold"), _held(now).label("held")]


def _ticket_view(row: sa.Row[Any]) -> TicketView:
    held = int(row.held)
    return TicketView(
        id=row.id,
        title=row.title,
        price=Money(int(row.price_minor), row.currency),
        owner_id=row.owner_id,
        capacity=row.capacity,
        available=max(row.capacity - int(row.sold) - held, 0),
        held=held,
        sold=int(row.sold),
        version=row.version,
        created_at=row.created_at,
    )


def _order_view(row: sa.Row[Any]) -> OrderView:
    return OrderView(
        id=row.id,
        status=OrderStatus(row.status),
        buyer_id=row.buyer_id,
        quantity=row.quantity,
        amount=Money(int(row.amount_minor), row.currency),
        expires_at=row.expires_at,
        created_at=row.created_at,
        version=row.version,
        ticket=TicketSummary(
            id=row.ticket_id,
            title=row.ticket_title,
            price=Money(int(row.ticket_price_minor), row.ticket_currency),
            version=row.ticket_version,
        ),
        cancel_reason=row.cancel_reason,
    )


def _after(table: sa.Table, cursor: str | None) -> sa.ColumnElement[bool] | None:
    position = Cursor.decode(cursor) if cursor else None
    if position is None:
        return None
    return sa.tuple_(table.c.created_at, table.c.id) > sa.tuple_(
        sa.literal(position.created_at, UTCDateTime()), sa.literal(position.id, sa.String())
    )


class SqlReadQueries:
    """Views for listings and pages; each call runs on its own short read transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def available_tickets(self, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """Tickets with at least one free unit, oldest first, keyset-paginated."""
        query = sa.select(*_ticket_columns(now)).where(
            _NOT_SOLD_OUT,
            sa.or_(
                tickets.c.capacity > _HELD_COUNTED + _SOLD,
                tickets.c.capacity - _SOLD - live_held(tickets.c.id, now) > 0,
            ),
        )
        return self._page(tickets, query, limit, cursor, _ticket_view)

    def tickets_owned_by(self, owner_id: str, now: datetime, limit: int, cursor: str | None = None) -> Page[TicketView]:
        """A seller's tickets whatever their state, oldest first."""
        query = sa.select(*_ticket_columns(now)).where(tickets.c.owner_id == owner_id)
        return self._page(tickets, query, limit, cursor, _ticket_view)

    def ticket(self, ticket_id: str, now: datetime) -> TicketView | None:
        """One ticket, sold out or not."""
        rows = self._fetch(sa.select(*_ticket_columns(now)).where(tickets.c.id == ticket_id))
        return _ticket_view(rows[0]) if rows else None

    def orders_for_user(self, user_id: str, limit: int, cursor: str | None = None) -> Page[OrderView]:
        """A buyer's orders in any status, oldest first."""
        query = self._orders().where(orders.c.buyer_id == user_id)
        return self._page(orders, query, limit, cursor, _order_view)

    def order(self, order_id: str) -> OrderView | None:
        """One order with its ticket summary."""
        rows = self._fetch(self._orders().where(orders.c.id == order_id))
        return _order_view(rows[0]) if rows else None

    def user(self, user_id: str) -> UserView | None:
        """One user."""
        rows = self._fetch(sa.select(users).where(users.c.id == user_id))
        if not rows:
            return None
        row = rows[0]
        return UserView(id=row.id, email=row.email, created_at=row.created_at, banned=row.banned_at is not None)

    @staticmethod
    def _orders() -> sa.Select[Any]:
        return sa.select(
            *orders.c,
            tickets.c.title.label("ticket_title"),
            tickets.c.price_minor.label("ticket_price_minor"),
            tickets.c.currency.label("ticket_currency"),
            tickets.c.version.label("ticket_version"),
        ).join_from(orders, tickets, orders.c.ticket_id == tickets.c.id)

    def _page(
        self,
        table: sa.Table,
        query: sa.Select[Any],
        limit: int,
        cursor: str | None,
        view: Callable[[sa.Row[Any]], T],
    ) -> Page[T]:
        size = clamp_page_size(limit)
        after = _after(table, cursor)
        if after is not None:
            query = query.where(after)
        rows = self._fetch(query.order_by(table.c.created_at, table.c.id).limit(size + 1))
        items = tuple(view(row) for row in rows[:size])
        if len(rows) <= size:
            return Page(items=items)
        last = rows[size - 1]
        return Page(items=items, next_cursor=Cursor(last.created_at, last.id).encode())

    def _fetch(self, query: sa.Select[Any]) -> Sequence[sa.Row[Any]]:
        with translated_errors(), self._engine.connect() as conn:
            return conn.execute(query).all()


__all__ = ["SqlReadQueries"]
