"""The payments port: charge, cancel and refund through a provider, and read its webhooks.

A provider plugin's factory returns a :class:`PaymentGateway`. The service layer keeps the
rules (one charge per order, who may pay, what late money means); a gateway only speaks to its
provider and reports what happened, in the terms below. Two gateways ship with EventHive:
``eventhive_core.adapters.fake_payments`` (no money moves) and
``eventhive_core.adapters.stripe_gateway``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from eventhive_core.domain.money import Money


class ChargeOutcome(enum.StrEnum):
    """Where a charge stands."""

    SUCCEEDED = "succeeded"
    """The money is taken."""
    FAILED = "failed"
    """No money is taken and none will be under this attempt (declined, or cancelled)."""
    REQUIRES_ACTION = "requires_action"
    """The buyer must authenticate (3-D Secure) with ``client_secret``; a webhook reports the end."""
    PROCESSING = "processing"
    """The provider is still working on it; a webhook reports the end."""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The provider's answer to a charge.

    Attributes:
        outcome: Where the charge stands.
        provider_ref: The provider's id for the charge (a Stripe PaymentIntent id).
        message: Why it failed, safe to show to the buyer.
        client_secret: For ``requires_action``: what the browser needs to finish.
    """

    outcome: ChargeOutcome
    provider_ref: str | None = None
    message: str | None = None
    client_secret: str | None = None


class PaymentProviderError(Exception):
    """The provider could not do what was asked, and is known to have taken no money.

    For instance a bad API key, or a request the provider refused before charging.
    """


class PaymentOutcomeUnknown(PaymentProviderError):
    """The answer was lost (transport error, timeout, provider error): money may have been taken.

    The service layer then keeps the attempt open: a retry sends the same idempotency key, and a
    switch to another card cancels this attempt first (through ``provider_ref`` when known).

    Args:
        message: What went wrong, for the log (never shown to the buyer).
        provider_ref: The provider's id for the attempt, if it was learnt before the answer was lost.
    """

    def __init__(self, message: str, provider_ref: str | None = None) -> None:
        super().__init__(message)
        self.provider_ref = provider_ref


class ChargeRefused(PaymentProviderError):
    """The provider refused the request itself, not the card (e.g. an amount too small); nothing charged.

    Its text says why, and is shown to the buyer.
    """


class InvalidWebhook(Exception):
    """A webhook's signature is missing, wrong or stale, or its body is not an event; change nothing."""


class ProviderEventKind(enum.StrEnum):
    """What a provider's webhook reports, in EventHive's terms."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    """Money was taken for an attempt."""
    PAYMENT_FAILED = "payment_failed"
    """An attempt failed (a declined card, a failed 3-D Secure)."""
    REFUNDED = "refunded"
    """Money was given back for an attempt (by EventHive or in the provider's dashboard)."""
    OTHER = "other"
    """Anything else: acknowledged and ignored."""


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook event, reduced to what EventHive acts on.

    Attributes:
        id: The provider's event id; a redelivery carries the same id.
        kind: What it reports.
        type: The provider's own name for it (``payment_intent.succeeded``), for logs.
        provider_ref: The provider's id for the attempt concerned (a PaymentIntent id).
        payment_id: EventHive's payment id, from the metadata sent with the charge.
        order_id: EventHive's order id, from the same metadata.
        amount_minor: For ``refunded``: how much has been given back so far, in minor units.
        message: For ``payment_failed``: why, safe to show to the buyer.
    """

    id: str
    kind: ProviderEventKind
    type: str
    provider_ref: str | None = None
    payment_id: str | None = None
    order_id: str | None = None
    amount_minor: int | None = None
    message: str | None = None


class PaymentGateway(Protocol):
    """A payment provider. Every call that moves money carries an idempotency key, so a retry charges once."""

    name: str
    """The name chosen by ``EVENTHIVE_PAYMENT_PROVIDER``; also the ``<provider>`` of the webhook URL."""

    def minimum_charge(self, currency: str) -> int:
        """Return the smallest amount the provider charges in ``currency``, in minor units (1 if no minimum)."""
        ...

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Charge ``amount`` with the buyer's ``token``, once per ``idempotency_key``.

        The same key with the same arguments must return where that charge stands, never
        charge again. A declined card is a ``failed`` result with a message, not an exception.

        Raises:
            PaymentOutcomeUnknown: The answer was lost; money may have been taken.
            ChargeRefused: The provider refused the request (not the card); nothing was taken.
            PaymentProviderError: The provider could not be used (e.g. a bad key); nothing was taken.
        """
        ...

    def cancel(self, *, provider_ref: str | None, idempotency_key: str) -> ChargeResult:
        """Make sure the attempt made under ``idempotency_key`` can no longer take money.

        Args:
            provider_ref: The provider's id for the attempt, when known. When None, the attempt
                never got as far as asking for money (its answer was lost before that), so
                there is nothing to cancel.
            idempotency_key: The key the attempt was charged under.

        Returns:
            ``failed`` once it cannot take money any more; ``succeeded`` if it took money
            first (the caller then settles or refunds it); ``processing`` if the provider is
            still deciding.

        Raises:
            PaymentProviderError: The provider could not be asked (``PaymentOutcomeUnknown``
                when the answer was lost).
        """
        ...

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund a succeeded charge in full, once per ``idempotency_key``; return the provider's refund id.

        A charge already refunded in full (for instance from the provider's dashboard) is not
        an error: return that refund's id.

        Raises:
            PaymentProviderError: The refund could not be made now; retry with the same key.
        """
        ...

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify a webhook's signature and read its event.

        Args:
            payload: The request body, exactly as received.
            headers: The request headers, names in lower case.

        Raises:
            InvalidWebhook: The signature is missing, wrong or too old, or the body is not an
                event. Nothing must change.
        """
        ...


__all__ = [
    "ChargeOutcome",
    "ChargeRefused",
    "ChargeResult",
    "InvalidWebhook",
    "PaymentGateway",
    "PaymentOutcomeUnknown",
    "PaymentProviderError",
    "ProviderEvent",
    "ProviderEventKind",
]
