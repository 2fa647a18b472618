"""The Acme gateway: a simulated provider with deterministic answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping

from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import (
    ChargeOutcome,
    ChargeResult,
    InvalidWebhook,
    ProviderEvent,
    ProviderEventKind,
)

#: Tokens with this prefix pay; every other token is declined.
APPROVED_PREFIX = "acme_ok"

#: The header carrying Acme's webhook signature (hex HMAC-SHA256 of the body).
SIGNATURE_HEADER = "x-acme-signature"

#: Acme's events, and what each reports in EventHive's terms.
EVENT_KINDS = {
    "charge.succeeded": ProviderEventKind.PAYMENT_SUCCEEDED,
    "charge.failed": ProviderEventKind.PAYMENT_FAILED,
    "charge.refunded": ProviderEventKind.REFUNDED,
}


class AcmeGateway:
    """Charges and refunds through "Acme", answering the same key with the same result.

    Args:
        merchant_id: The merchant account charges are made for (from ``EVENTHIVE_PAYMENT_OPTIONS``).
        webhook_secret: The secret Acme signs its webhooks with (also from the options).
    """

    name = "acme"

    def __init__(self, merchant_id: str = "demo", webhook_secret: str = "acme-demo-secret") -> None:  # noqa: S107
        self.merchant_id = merchant_id
        self._webhook_secret = webhook_secret.encode()
        self._lock = threading.Lock()
        self._charges: dict[str, ChargeResult] = {}
        self._refunds: dict[str, str] = {}
        self._refund_of: dict[str, str] = {}
        self.charged: dict[str, Money] = {}
        """Amounts charged successfully, by provider reference (what a real provider's dashboard would show)."""

    def minimum_charge(self, currency: str) -> int:
        """Acme charges anything from one minor unit."""
        return 1

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

    def cancel(self, *, provider_ref: str | None, idempotency_key: str) -> ChargeResult:
        """Acme settles at once, so there is nothing to cancel: report where the charge stands."""
        with self._lock:
            known = self._charges.get(idempotency_key)
        return known if known is not None else ChargeResult(ChargeOutcome.FAILED, provider_ref=provider_ref)

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund a successful charge in full (once, whatever the key) and return the refund's reference."""
        with self._lock:
            if idempotency_key in self._refunds:
                return self._refunds[idempotency_key]
            if provider_ref in self._refund_of:
                return self._refund_of[provider_ref]
            if self.charged.get(provider_ref) != amount:
                raise ValueError(f"Acme has no charge {provider_ref!r} of {amount} to refund")
            refund_ref = self._reference("re", idempotency_key)
            self._refunds[idempotency_key] = self._refund_of[provider_ref] = refund_ref
            return refund_ref

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Check Acme's signature and read ``{"id", "type", "charge", "metadata"}``."""
        expected = hmac.new(self._webhook_secret, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get(SIGNATURE_HEADER, "").encode(), expected.encode()):
            raise InvalidWebhook("Missing or wrong Acme signature")
        try:
            event = json.loads(payload)
            metadata = event.get("metadata") or {}
            return ProviderEvent(
                id=str(event["id"]),
                kind=EVENT_KINDS.get(event["type"], ProviderEventKind.OTHER),
                type=str(event["type"]),
                provider_ref=event.get("charge"),
                payment_id=metadata.get("payment_id"),
                order_id=metadata.get("order_id"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidWebhook("Not an Acme event") from exc

    def _reference(self, kind: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(f"{self.merchant_id}:{idempotency_key}".encode()).hexdigest()[:16]
        return f"acme_{kind}_{digest}"
