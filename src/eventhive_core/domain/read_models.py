"""Read models: what queries return (frozen dataclasses, never aggregates), and their pages.

The ports' queries return them and the service layer builds them from entities; they live in the
domain, below both, because they are plain data made of the domain's types (standard library only).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from eventhive_core.domain.ids import is_valid_id
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import Order, OrderStatus
from eventhive_core.domain.reservation import Units
from eventhive_core.domain.ticket import Ticket

T = TypeVar("T")

#: Page sizes for list queries.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
#: Longer cursor text is not one of ours (ours have about 92 characters).
MAX_CURSOR_LENGTH = 128
#: What cursor text is made of: unpadded URL-safe base64, as :meth:`Cursor.encode` writes it.
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as others may see them (no password hash)."""

    id: str
    email: str
    created_at: datetime
    banned: bool = False


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket with how many units are free now.

    Attributes:
        available: Units a buyer could order now (capacity − sold − live holds).
        held: Units held by live orders.
        sold: Units in complete orders.
    """

    id: str
    title: str
    price: Money
    owner_id: str
    capacity: int
    available: int
    held: int
    sold: int
    version: int
    created_at: datetime

    @classmethod
    def of(cls, ticket: Ticket, units: Units) -> TicketView:
        """Build the view of a ticket from the entity and its units at some instant."""
        return cls(
            id=ticket.id,
            title=ticket.title,
            price=ticket.price,
            owner_id=ticket.owner_id,
            capacity=ticket.capacity,
            available=units.free,
            held=units.held,
            sold=units.sold,
            version=ticket.version,
            created_at=ticket.created_at,
        )


@dataclass(frozen=True, slots=True)
class TicketSummary:
    """The ticket as shown inside an order."""

    id: str
    title: str
    price: Money
    version: int


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with a summary of its ticket.

    Attributes:
        replayed: True when ``PlaceOrder`` found the order its Idempotency-Key placed before
            and returned it (as it is now) instead of placing another; False everywhere else.
    """

    id: str
    status: OrderStatus
    buyer_id: str
    quantity: int
    amount: Money
    expires_at: datetime
    created_at: datetime
    version: int
    ticket: TicketSummary
    cancel_reason: str | None = None
    replayed: bool = False

    @classmethod
    def of(cls, order: Order, ticket: Ticket) -> OrderView:
        """Build the view of an order from the entity and its ticket."""
        return cls(
            id=order.id,
            status=order.status,
            buyer_id=order.buyer_id,
            quantity=order.quantity,
            amount=order.amount,
            expires_at=order.expires_at,
            created_at=order.created_at,
            version=order.version,
            ticket=TicketSummary(ticket.id, ticket.title, ticket.price, ticket.version),
            cancel_reason=None if order.cancel_reason is None else str(order.cancel_reason),
        )


@dataclass(frozen=True, slots=True)
class PaymentView:
    """A payment as the buyer sees it."""

    id: str
    order_id: str
    provider: str
    provider_ref: str | None
    status: str
    amount: Money
    client_secret: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: tuple[T, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    """A keyset position: list items strictly after ``(created_at, id)``."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        """Return the cursor as opaque URL-safe text."""
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """Parse opaque cursor text; None when it is not one this server could have issued.

        Ours name an aware UTC time and an EventHive id: anything else (another offset, which
        could overflow when converted, an id with a NUL byte...) is refused here rather than
        reaching the database.

        Examples:
            >>> from datetime import UTC
            >>> cursor = Cursor(datetime(2026, 1, 1, tzinfo=UTC), "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01")
            >>> Cursor.decode(cursor.encode()) == cursor
            True
            >>> Cursor.decode("MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHx4") is None  # year 1 at +14:00
            True
        """
        if len(text) > MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(text):
            # Python's base64 would skip other characters and read the rest, so "a cursor this
            # server could have issued" starts with being spelled like one.
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            stamp, _, ident = raw.partition("|")
            created_at = datetime.fromisoformat(stamp)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if created_at.utcoffset() != timedelta(0) or not is_valid_id(ident):
            return None
        return cls(created_at, ident)


def clamp_page_size(limit: int | None) -> int:
    """Return a page size within 1..MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE).

    Examples:
        >>> clamp_page_size(None), clamp_page_size(0), clamp_page_size(1000)
        (50, 1, 100)
    """
    if limit is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(limit, MAX_PAGE_SIZE))


__all__ = [
    "CURSOR_PATTERN",
    "DEFAULT_PAGE_SIZE",
    "MAX_CURSOR_LENGTH",
    "MAX_PAGE_SIZE",
    "Cursor",
    "OrderView",
    "Page",
    "PaymentView",
    "TicketSummary",
    "TicketView",
    "UserView",
    "clamp_page_size",
]
