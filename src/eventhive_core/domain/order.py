"""The Order entity, its statuses and the transition table."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from eventhive_core.domain.ids import OrderId, TicketId, UserId
from eventhive_core.domain.money import Money


class OrderStatus(enum.StrEnum):
    """The four statuses, spelled exactly as the original spells them."""

    CREATED = "created"
    AWAITING_PAYMENT = "awaiting:payment"
    COMPLETE = "complete"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Tell whether nothing can change this status any more."""
        return self in FINAL_STATUSES


class CancelReason(enum.StrEnum):
    """Why an order was cancelled."""

    BUYER = "buyer"
    EXPIRED = "expired"
    REFUNDED = "refunded"


#: Statuses in which an order holds units (while its hold has not run out).
HOLDING_STATUSES = frozenset({OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT})
#: Statuses in which the hold is over: nothing but a seller's refund changes them again.
FINAL_STATUSES = frozenset({OrderStatus.COMPLETE, OrderStatus.CANCELLED})

#: Allowed moves. Expiry and buyer cancellation start only from a holding status, so
#: neither can ever cancel a complete order; only a refund does (see ``moved_to``).
#: ``created`` → ``complete`` happens where payments are another service's (a split platform): the
#: order never waits for the payment here, the payment's event completes it.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.COMPLETE, OrderStatus.CANCELLED}),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.COMPLETE, OrderStatus.CREATED, OrderStatus.CANCELLED}),
    OrderStatus.COMPLETE: frozenset({OrderStatus.CANCELLED}),
    OrderStatus.CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    """Raised when a move is not in the transition table (a programming error)."""


def can_transition(source: OrderStatus, target: OrderStatus) -> bool:
    """Tell whether the table allows moving from ``source`` to ``target``.

    A complete order may only be cancelled with the reason ``refunded``: ``Order.moved_to``
    checks the reason too.

    Examples:
        >>> can_transition(OrderStatus.CREATED, OrderStatus.CANCELLED)
        True
        >>> can_transition(OrderStatus.CANCELLED, OrderStatus.CREATED)
        False
    """
    return target in TRANSITIONS[source]


@dataclass(frozen=True, slots=True)
class Order:
    """A buyer's order for some units of one ticket.

    Attributes:
        id: The order's id.
        ticket_id: The ticket ordered.
        buyer_id: Who ordered it; only they may see, cancel or pay it.
        quantity: Units held (and sold when paid).
        status: Where the order is in its life.
        expires_at: When the hold runs out if unpaid (aware UTC).
        created_at: When it was placed (aware UTC).
        amount: What the buyer pays: the ticket price at reservation × quantity.
        version: Optimistic-concurrency version, +1 per transition.
        cancel_reason: Why it was cancelled, once it is.
        idempotency_key: The buyer's Idempotency-Key the order was placed with, if any; one
            order per buyer and key, so a retry with the key finds this order instead of
            placing another.
    """

    id: OrderId
    ticket_id: TicketId
    buyer_id: UserId
    status: OrderStatus
    expires_at: datetime
    created_at: datetime
    amount: Money
    quantity: int = 1
    version: int = 0
    cancel_reason: CancelReason | None = None
    idempotency_key: str | None = None

    def bumped(self) -> Order:
        """Return the order with only its version bumped.

        Saved as a guarded write, it makes every other writer that read the same version lose,
        which serialises claims on an order that stay in one status (a second payment attempt).
        """
        return replace(self, version=self.version + 1)

    def moved_to(self, target: OrderStatus, *, reason: CancelReason | None = None) -> Order:
        """Return the order in ``target`` status with its version bumped.

        Raises:
            InvalidTransition: The table does not allow the move, or a complete order would be
                cancelled for any reason but a refund (expiry never cancels a paid order).
        """
        if not can_transition(self.status, target):
            raise InvalidTransition(f"Order {self.id} cannot go from {self.status} to {target}")
        if target is OrderStatus.CANCELLED and reason is None:
            raise InvalidTransition("A cancellation needs a reason")
        if self.status is OrderStatus.COMPLETE and reason is not CancelReason.REFUNDED:
            raise InvalidTransition(f"Order {self.id} is complete: only a refund cancels it, not {reason}")
        if reason is CancelReason.REFUNDED and self.status is not OrderStatus.COMPLETE:
            raise InvalidTransition(f"Order {self.id} is {self.status}: only a complete order is refunded")
        return replace(self, status=target, version=self.version + 1, cancel_reason=reason)
