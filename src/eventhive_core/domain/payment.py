"""The Payment entity: one attempt to pay an order through a provider.

An order may see several attempts (a declined card, then another card), but at most one ever
succeeds. While the provider is being called, the attempt carries a short lease
(``charging_until``) so that a second pay request for the same order waits its turn instead of
starting a second charge.
"""

from __future__ import annotations

import enum
import hashlib
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


def method_digest(token: str) -> str:
    """Return a digest of a payment-method token, to recognise a retry with the same card.

    The token itself is not kept: a legacy checkout token is single-use card data, and only
    "same card or another?" matters afterwards.

    Examples:
        >>> method_digest("tok_visa") == method_digest("tok_visa") != method_digest("pm_card_visa")
        True
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Payment:
    """An attempt to charge for an order.

    Attributes:
        id: The payment's id.
        order_id: The order paid.
        provider: Name of the payment provider (``fake``, ``stripe``, a plugin's name).
        amount: What is charged.
        status: Where the payment is.
        idempotency_key: Sent to the provider so a retried charge is charged once.
        created_at: When the attempt started (aware UTC).
        provider_ref: The provider's id for the charge, once known.
        version: Optimistic-concurrency version, +1 per change.
        method_digest: Digest of the buyer's payment-method token (see :func:`method_digest`).
        charging_until: While a call to the provider is in flight: when that call is given up
            for lost (aware UTC). None otherwise.
    """

    id: PaymentId
    order_id: OrderId
    provider: str
    amount: Money
    status: PaymentStatus
    idempotency_key: str
    created_at: datetime
    provider_ref: str | None = None
    version: int = 0
    method_digest: str | None = None
    charging_until: datetime | None = None

    def settled(self, status: PaymentStatus, provider_ref: str | None = None) -> Payment:
        """Return the payment with a new status (and the provider's reference, if given), its lease ended."""
        return replace(
            self,
            status=status,
            provider_ref=provider_ref or self.provider_ref,
            version=self.version + 1,
            charging_until=None,
        )

    def charging(self, until: datetime) -> Payment:
        """Return the payment leased to one caller of the provider until ``until``."""
        return replace(self, charging_until=until, version=self.version + 1)

    def released(self, provider_ref: str | None = None) -> Payment:
        """Return the payment with its lease ended, still pending (waiting for the buyer or a webhook)."""
        return replace(
            self, charging_until=None, provider_ref=provider_ref or self.provider_ref, version=self.version + 1
        )

    def is_charging(self, now: datetime) -> bool:
        """Tell whether a call to the provider for this payment may still be in flight at ``now``."""
        return self.charging_until is not None and self.charging_until > now

    def moved_to_order(self, order_id: OrderId) -> Payment:
        """Return the payment attached to another order (a late payment accepted as a replacement order)."""
        return replace(self, order_id=order_id, version=self.version + 1)
