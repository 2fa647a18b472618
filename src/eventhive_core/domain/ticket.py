"""The Ticket entity: something for sale, with a number of units."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from eventhive_core.domain.ids import TicketId, UserId
from eventhive_core.domain.money import Money


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket listing.

    Attributes:
        id: The ticket's id.
        title: What is sold (1 to 200 characters, no control characters).
        price: The price of one unit.
        owner_id: The seller; only they may edit it.
        created_at: When it was listed (aware UTC).
        capacity: How many units can be sold in all (the original sold exactly one).
        version: Optimistic-concurrency version, 0 when created, +1 per change.
    """

    id: TicketId
    title: str
    price: Money
    owner_id: UserId
    created_at: datetime
    capacity: int = 1
    version: int = 0

    def edited(self, *, title: str | None = None, price: Money | None = None, capacity: int | None = None) -> Ticket:
        """Return the ticket with the given fields changed and its version bumped."""
        return replace(
            self,
            title=self.title if title is None else title,
            price=self.price if price is None else price,
            capacity=self.capacity if capacity is None else capacity,
            version=self.version + 1,
        )
