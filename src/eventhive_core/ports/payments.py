"""The payments port: charge and refund through a provider."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from eventhive_core.domain.money import Money


class ChargeOutcome(enum.StrEnum):
    """What became of a charge."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The provider's answer to a charge.

    Attributes:
        outcome: Succeeded, failed, or waiting for the buyer (3-D Secure).
        provider_ref: The provider's id for the charge.
        message: Why it failed, safe to show to the buyer.
        client_secret: For ``requires_action``: what the browser needs to finish.
    """

    outcome: ChargeOutcome
    provider_ref: str | None = None
    message: str | None = None
    client_secret: str | None = None


class PaymentProviderError(Exception):
    """The provider could not be reached or answered with an error; nothing is known to be charged."""


class PaymentGateway(Protocol):
    """A payment provider. Every call carries an idempotency key, so a retry charges once."""

    name: str

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Charge ``amount`` using the buyer's ``token``; raise PaymentProviderError on transport failure."""
        ...

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund a charge in full; return the provider's refund id."""
        ...
