"""The Acme gateway: a simulated provider with deterministic answers."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import ChargeOutcome, ChargeResult

#: Tokens with this prefix pay; every other token is declined.
APPROVED_PREFIX = "acme_ok"


class AcmeGateway:
    """Charges and refunds through "Acme", answering the same key with the same result.

    Args:
        merchant_id: The merchant account charges are made for (from ``EVENTHIVE_PAYMENT_OPTIONS``).
    """

    name = "acme"

    def __init__(self, merchant_id: str = "demo") -> None:
        self.merchant_id = merchant_id
        self._lock = threading.Lock()
        self._charges: dict[str, ChargeResult] = {}
        self._refunds: dict[str, str] = {}
        self.charged: dict[str, Money] = {}
        """Amounts charged successfully, by provider reference (what a real provider's dashboard would show)."""

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Charge ``amount``: succeed for ``acme_ok*`` tokens, decline others; replay a known key."""
        with self._lock:
            if idempotency_key in self._charges:
                return self._charges[idempotency_key]
            ref = self._reference("ch", idempotency_key)
            if token.startswith(APPROVED_PREFIX):
                result = ChargeResult(ChargeOutcome.SUCCEEDED, provider_ref=ref)
                self.charged[ref] = amount
            else:
                result = ChargeResult(ChargeOutcome.FAILED, provider_ref=ref, message="Acme declined the card.")
            self._charges[idempotency_key] = result
            return result

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund a successful charge in full and return the refund's reference."""
        with self._lock:
            if idempotency_key in self._refunds:
                return self._refunds[idempotency_key]
            if self.charged.get(provider_ref) != amount:
                raise ValueError(f"Acme has no charge {provider_ref!r} of {amount} to refund")
            refund_ref = self._reference("re", idempotency_key)
            self._refunds[idempotency_key] = refund_ref
            return refund_ref

    def _reference(self, kind: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(f"{self.merchant_id}:{idempotency_key}".encode()).hexdigest()[:16]
        return f"acme_{kind}_{digest}"
