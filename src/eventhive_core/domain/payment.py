"""The Payment entity: one attempt to pay an order through a provider."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from eventhive_core.domain.ids import OrderId, PaymentId
from eventhive_core.domain.money import Money


class PaymentStatus(enum.StrEnum):
    """Where a payment is; at most one payment per order ever succeeds."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Payment:
    """A charge for an order.

    Attributes:
        id: The payment's id.
        order_id: The order paid.
        provider: Name of the payment provider (``fake``, ``stripe``, a plugin's name).
        amount: What is charged.
        status: Where the payment is.
        idempotency_key: Sent to the provider so a retried charge is charged once.
        created_at: When the attempt started (aware UTC).
        provider_ref: The provider's id for the charge, once known.
    """

    id: PaymentId
    order_id: OrderId
    provider: str
    amount: Money
    status: PaymentStatus
    idempotency_key: str
    created_at: datetime
    provider_ref: str | None = None

    def settled(self, status: PaymentStatus, provider_ref: str | None = None) -> Payment:
        """Return the payment with a new status (and the provider's reference, if given)."""
        return replace(self, status=status, provider_ref=provider_ref or self.provider_ref)
