"""Domain events: one frozen dataclass per subject, named in the past tense.

A unit of work collects them and writes them to the outbox in the same transaction as the
change; the relay later publishes them as versioned envelopes (see ``eventhive_core.contracts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base class; ``type`` is the subject, spelled as the original spells it."""

    type: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class TicketCreated(DomainEvent):
    """A ticket was listed."""

    type: ClassVar[str] = "ticket:created"
    id: str
    version: int
    title: str
    price_minor: int
    currency: str
    capacity: int
    owner_id: str


@dataclass(frozen=True, slots=True)
class TicketUpdated(DomainEvent):
    """A ticket's title, price or capacity changed."""

    type: ClassVar[str] = "ticket:updated"
    id: str
    version: int
    title: str
    price_minor: int
    currency: str
    capacity: int
    owner_id: str


@dataclass(frozen=True, slots=True)
class OrderCreated(DomainEvent):
    """Units were reserved for a buyer."""

    type: ClassVar[str] = "order:created"
    id: str
    version: int
    status: str
    buyer_id: str
    ticket_id: str
    quantity: int
    expires_at: datetime
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class OrderCancelled(DomainEvent):
    """An order was cancelled by its buyer or by expiry; its units are free again."""

    type: ClassVar[str] = "order:cancelled"
    id: str
    version: int
    ticket_id: str
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderCompleted(DomainEvent):
    """An order was paid: its units are sold.

    The service that owns orders publishes it when a payment completes an order, so the
    replicas of the order (the tickets, payments and expiration services keep one) follow it
    in version order: the original completed orders without publishing anything, and every
    replica fell a version behind.
    """

    type: ClassVar[str] = "order:completed"
    id: str
    version: int
    ticket_id: str
    quantity: int
    payment_id: str


@dataclass(frozen=True, slots=True)
class OrderPaymentRefused(DomainEvent):
    """The orders service would not take a payment for an order; the payments service refunds it.

    Its hold was over, or another payment had completed it (``reason`` says which). The
    payments service charges against its replica of the order, which may be behind, so only
    the orders service can tell whether the money is kept.
    """

    type: ClassVar[str] = "order:payment_refused"
    order_id: str
    payment_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExpirationComplete(DomainEvent):
    """An order's hold ran out and the order was cancelled for it."""

    type: ClassVar[str] = "expiration:complete"
    order_id: str


@dataclass(frozen=True, slots=True)
class ExpirationDue(DomainEvent):
    """The expiration service's timer for an order's hold ran out.

    The orders service expires the order if its hold is over by its own clock: the expiration
    service only asks, since its replica of the order may be behind and its clock may differ.
    """

    type: ClassVar[str] = "expiration:due"
    order_id: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentCreated(DomainEvent):
    """A charge succeeded; the order completed in the same transaction."""

    type: ClassVar[str] = "payment:created"
    id: str
    order_id: str
    provider: str
    provider_ref: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentRefunded(DomainEvent):
    """Money was given back (for instance a payment that arrived after the hold ran out)."""

    type: ClassVar[str] = "payment:refunded"
    id: str
    order_id: str
    provider: str
    provider_ref: str
    amount_minor: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True)
class UserBanned(DomainEvent):
    """A user was banned."""

    type: ClassVar[str] = "user:banned"
    user_id: str
    banned_at: datetime


@dataclass(frozen=True, slots=True)
class UserSignedOut(DomainEvent):
    """A user signed out: the token they signed out with is revoked until it would have expired."""

    type: ClassVar[str] = "user:signed_out"
    user_id: str
    token_id: str
    expires_at: datetime


#: Every event class by its subject.
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        TicketCreated,
        TicketUpdated,
        OrderCreated,
        OrderCancelled,
        OrderCompleted,
        OrderPaymentRefused,
        ExpirationComplete,
        ExpirationDue,
        PaymentCreated,
        PaymentRefunded,
        UserBanned,
        UserSignedOut,
    )
}
