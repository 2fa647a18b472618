"""A deterministic payment provider that understands Stripe's test token names.

So a walk-through reads the same against the fake and against Stripe in test mode:
``tok_visa`` pays, ``tok_chargeDeclined`` is declined, ``tok_threeDSecure2Required`` needs the
buyer to authenticate. Idempotency behaves like Stripe's: one key, one charge. It also sends
signed webhooks of its own (:meth:`FakePaymentGateway.webhook`), so every path of the payments
service can be tested without a network.

This module is also the built-in plugin ``builtin.fake_payments``: it registers the provider as
``fake`` (``EVENTHIVE_PAYMENT_PROVIDER``, the default).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from eventhive_core.domain.money import Money
from eventhive_core.markers import hookimpl
from eventhive_core.ports.payments import (
    ChargeOutcome,
    ChargeResult,
    InvalidWebhook,
    PaymentOutcomeUnknown,
    ProviderEvent,
    ProviderEventKind,
)

if TYPE_CHECKING:
    from eventhive_core.plugins.factories import RegisterPaymentProvider
    from eventhive_core.settings import HiveSettings

__all__ = [
    "ACTION_REQUIRED",
    "DECLINES",
    "SIGNATURE_HEADER",
    "UNREACHABLE",
    "FakeCharge",
    "FakePaymentGateway",
    "FakeRefund",
]

#: The header carrying the fake's webhook signature (hex HMAC-SHA256 of the body).
SIGNATURE_HEADER = "x-fake-signature"

#: Tokens that decline, with the message Stripe gives for each (safe to show to the buyer).
DECLINES: Mapping[str, str] = MappingProxyType(
    {
        "tok_chargeDeclined": "Your card was declined.",
        "tok_chargeDeclinedInsufficientFunds": "Your card has insufficient funds.",
        "tok_chargeDeclinedFraudulent": "Your card was declined.",
        "tok_chargeDeclinedExpiredCard": "Your card has expired.",
        "tok_chargeDeclinedIncorrectCvc": "Your card's security code is incorrect.",
        "tok_chargeDeclinedProcessingError": "An error occurred while processing your card. Try again in a little bit.",
        "pm_card_chargeDeclined": "Your card was declined.",
        "pm_card_chargeDeclinedInsufficientFunds": "Your card has insufficient funds.",
    }
)

#: Tokens that need the buyer to authenticate (3-D Secure) before the charge settles.
ACTION_REQUIRED: frozenset[str] = frozenset(
    {"tok_threeDSecure2Required", "pm_card_threeDSecure2Required", "pm_card_authenticationRequired"}
)

#: The token that simulates a provider that cannot be reached.
UNREACHABLE = "tok_unreachable"

#: The message for a token the fake does not know (Stripe answers "No such token").
UNKNOWN_METHOD_MESSAGE = "This payment method is not valid. Try another card."


@dataclass(frozen=True, slots=True)
class FakeCharge:
    """One charge the fake provider recorded.

    Attributes:
        provider_ref: The charge's id (``fake_ch_…``, or ``fake_pi_…`` while it needs action).
        amount: What was charged.
        token: The buyer's token as given.
        idempotency_key: The key it was made under.
        metadata: The metadata sent with it.
        result: What the provider answered (updated by ``complete_action``).
    """

    provider_ref: str
    amount: Money
    token: str
    idempotency_key: str
    metadata: Mapping[str, str]
    result: ChargeResult

    @property
    def amount_minor(self) -> int:
        """The amount in minor units."""
        return self.amount.minor

    @property
    def currency(self) -> str:
        """The ISO 4217 currency code."""
        return self.amount.currency

    @property
    def outcome(self) -> ChargeOutcome:
        """Where the charge is now."""
        return self.result.outcome


@dataclass(frozen=True, slots=True)
class FakeRefund:
    """One refund the fake provider recorded.

    Attributes:
        refund_id: The refund's id (``fake_re_…``).
        provider_ref: The charge refunded.
        amount: What was refunded.
        idempotency_key: The key it was made under.
    """

    refund_id: str
    provider_ref: str
    amount: Money
    idempotency_key: str


def _outcome_for(token: str, provider_ref_seed: str) -> tuple[str, ChargeResult]:
    if token in DECLINES:
        ref = f"fake_ch_{provider_ref_seed}"
        return ref, ChargeResult(ChargeOutcome.FAILED, provider_ref=ref, message=DECLINES[token])
    if token in ACTION_REQUIRED:
        ref = f"fake_pi_{provider_ref_seed}"
        secret = f"{ref}_secret_{uuid.uuid4().hex[:24]}"
        return ref, ChargeResult(ChargeOutcome.REQUIRES_ACTION, provider_ref=ref, client_secret=secret)
    ref = f"fake_ch_{provider_ref_seed}"
    if token.startswith(("tok_", "pm_card_")):
        return ref, ChargeResult(ChargeOutcome.SUCCEEDED, provider_ref=ref)
    return ref, ChargeResult(ChargeOutcome.FAILED, provider_ref=ref, message=UNKNOWN_METHOD_MESSAGE)


class FakePaymentGateway:
    """A payment provider for tests, demos and the embedded mode; it never moves money.

    Args:
        name: The name it registers under (``fake``).
        webhook_secret: Signs and verifies its webhooks.
        minimums: The smallest charge per currency in minor units (none by default).

    Tokens (Stripe's test names):

    - ``tok_visa``, ``pm_card_visa`` and any other ``tok_…``/``pm_card_…`` not listed below: succeeds.
    - ``tok_chargeDeclined``: fails, "Your card was declined."
    - ``tok_chargeDeclinedInsufficientFunds``: fails, "Your card has insufficient funds."
      (more declines in ``DECLINES``).
    - ``tok_threeDSecure2Required``: requires action, with a ``client_secret``; settle it
      with ``complete_action``.
    - ``tok_unreachable``: raises PaymentOutcomeUnknown and records nothing.
    - anything else: fails as an invalid payment method.

    Repeating a call with the same idempotency key returns where that charge stands now and
    records nothing new; the same key with a different request raises ValueError, as Stripe
    does. :meth:`lose_answers` makes the next charges happen but their answers get lost.
    Thread-safe.

    Examples:
        >>> gateway = FakePaymentGateway()
        >>> gateway.charge(amount=Money(2000), token="tok_chargeDeclined", idempotency_key="k1", metadata={}).message
        'Your card was declined.'
        >>> gateway.charge(amount=Money(2000), token="tok_visa", idempotency_key="k2", metadata={}).outcome
        <ChargeOutcome.SUCCEEDED: 'succeeded'>
        >>> len(gateway.charges)
        2
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        webhook_secret: str = "whsec_fake",  # noqa: S107 - signs play-money webhooks only
        minimums: Mapping[str, int] | None = None,
    ) -> None:
        self.name = name
        self.webhook_secret = webhook_secret
        self._minimums = dict(minimums or {})
        self._lock = threading.Lock()
        self._charges: list[FakeCharge] = []
        self._charges_by_key: dict[str, int] = {}
        self._charges_by_ref: dict[str, int] = {}
        self._refunds: list[FakeRefund] = []
        self._refunds_by_key: dict[str, FakeRefund] = {}
        self._refund_of_ref: dict[str, FakeRefund] = {}
        self._cancelled: list[str] = []
        self._answers_to_lose = 0

    def __repr__(self) -> str:
        return f"FakePaymentGateway(name={self.name!r})"

    @property
    def charges(self) -> list[FakeCharge]:
        """Every charge recorded, oldest first (a copy)."""
        with self._lock:
            return list(self._charges)

    @property
    def refunds(self) -> list[FakeRefund]:
        """Every refund recorded, oldest first (a copy)."""
        with self._lock:
            return list(self._refunds)

    @property
    def cancelled(self) -> list[str]:
        """The references of the charges cancelled, oldest first (a copy)."""
        with self._lock:
            return list(self._cancelled)

    def money_taken(self) -> int:
        """Return the minor units charged and not refunded, over every charge."""
        with self._lock:
            taken = sum(c.amount.minor for c in self._charges if c.outcome is ChargeOutcome.SUCCEEDED)
            return taken - sum(r.amount.minor for r in self._refunds)

    def lose_answers(self, count: int = 1) -> None:
        """Make the next ``count`` charges happen but raise PaymentOutcomeUnknown instead of answering."""
        with self._lock:
            self._answers_to_lose = count

    def minimum_charge(self, currency: str) -> int:
        """Return the smallest charge in ``currency`` in minor units (1 unless set with ``minimums``)."""
        return self._minimums.get(currency.upper(), 1)

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Charge ``amount`` with the buyer's ``token``, once per ``idempotency_key``.

        Raises:
            PaymentOutcomeUnknown: The token is ``tok_unreachable`` (a simulated transport failure,
                nothing recorded), or :meth:`lose_answers` asked to lose this answer (the charge
                is recorded).
            ValueError: The key was used before with a different amount, token or metadata; or the
                amount is not positive; or the key is empty.
        """
        if not idempotency_key:
            raise ValueError("An idempotency key is required")
        if amount.minor <= 0:
            raise ValueError(f"The amount must be positive, got {amount}")
        if token == UNREACHABLE:
            raise PaymentOutcomeUnknown("The fake payment provider is unreachable (tok_unreachable)")
        sent_metadata = dict(metadata)
        with self._lock:
            index = self._charges_by_key.get(idempotency_key)
            if index is not None:
                previous = self._charges[index]
                if (previous.amount, previous.token, dict(previous.metadata)) != (amount, token, sent_metadata):
                    raise ValueError(
                        f"Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with; the key {idempotency_key!r} was used for another charge"
                    )
                result = previous.result
            else:
                provider_ref, result = _outcome_for(token, uuid.uuid4().hex)
                charge = FakeCharge(
                    provider_ref=provider_ref,
                    amount=amount,
                    token=token,
                    idempotency_key=idempotency_key,
                    metadata=MappingProxyType(sent_metadata),
                    result=result,
                )
                self._charges.append(charge)
                self._charges_by_key[idempotency_key] = self._charges_by_ref[provider_ref] = len(self._charges) - 1
            if self._answers_to_lose > 0:
                self._answers_to_lose -= 1
                raise PaymentOutcomeUnknown("The fake payment provider lost its answer", result.provider_ref)
            return result

    def cancel(self, *, provider_ref: str | None, idempotency_key: str) -> ChargeResult:
        """Cancel the charge made under ``idempotency_key`` unless it succeeded; return where it stands.

        A charge that needed action ends failed; a succeeded one is reported as succeeded (the
        caller refunds it); no charge at all is reported as failed.
        """
        with self._lock:
            index = self._charges_by_ref.get(provider_ref) if provider_ref else None
            if index is None:
                index = self._charges_by_key.get(idempotency_key)
            if index is None:
                return ChargeResult(ChargeOutcome.FAILED, provider_ref=provider_ref)
            charge = self._charges[index]
            if charge.outcome is ChargeOutcome.REQUIRES_ACTION:
                cancelled = ChargeResult(
                    ChargeOutcome.FAILED, provider_ref=charge.provider_ref, message="The payment was cancelled."
                )
                self._charges[index] = replace(charge, result=cancelled)
                self._cancelled.append(charge.provider_ref)
                return cancelled
            return replace(charge.result, client_secret=None)

    def complete_action(self, provider_ref: str, *, succeed: bool = True) -> ChargeResult:
        """Finish a charge that required action, as if the buyer passed (or failed) 3-D Secure.

        Returns the charge's new result; a real provider would now send a webhook.

        Raises:
            ValueError: No such charge, or it does not require action.
        """
        with self._lock:
            index = self._charges_by_ref.get(provider_ref)
            if index is None:
                raise ValueError(f"No such charge: {provider_ref!r}")
            charge = self._charges[index]
            if charge.outcome is not ChargeOutcome.REQUIRES_ACTION:
                raise ValueError(f"Charge {provider_ref!r} is {charge.outcome}, not requires_action")
            result = (
                ChargeResult(ChargeOutcome.SUCCEEDED, provider_ref=provider_ref)
                if succeed
                else ChargeResult(
                    ChargeOutcome.FAILED,
                    provider_ref=provider_ref,
                    message="We are unable to authenticate your payment method. Try another card.",
                )
            )
            self._charges[index] = replace(charge, result=result)
            return result

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund a succeeded charge in full, once per ``idempotency_key``; return the refund id.

        A charge already refunded under another key is not refunded again: that refund's id
        is returned.

        Raises:
            ValueError: Unknown charge, a charge that did not succeed, an amount other than the
                charge's, or a key reused for another refund.
        """
        if not idempotency_key:
            raise ValueError("An idempotency key is required")
        with self._lock:
            previous = self._refunds_by_key.get(idempotency_key)
            if previous is not None:
                if (previous.provider_ref, previous.amount) != (provider_ref, amount):
                    raise ValueError(
                        f"Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with; the key {idempotency_key!r} was used for another refund"
                    )
                return previous.refund_id
            index = self._charges_by_ref.get(provider_ref)
            if index is None:
                raise ValueError(f"No such charge: {provider_ref!r}")
            charge = self._charges[index]
            if charge.outcome is not ChargeOutcome.SUCCEEDED:
                raise ValueError(
                    f"Charge {provider_ref!r} is {charge.outcome}; only a succeeded charge can be refunded"
                )
            if amount != charge.amount:
                raise ValueError(f"Refunds are in full: charge {provider_ref!r} is {charge.amount}, not {amount}")
            earlier = self._refund_of_ref.get(provider_ref)
            if earlier is not None:
                return earlier.refund_id
            refund = FakeRefund(
                refund_id=f"fake_re_{uuid.uuid4().hex}",
                provider_ref=provider_ref,
                amount=amount,
                idempotency_key=idempotency_key,
            )
            self._refunds.append(refund)
            self._refunds_by_key[idempotency_key] = refund
            self._refund_of_ref[provider_ref] = refund
            return refund.refund_id

    def refund_in_dashboard(self, provider_ref: str) -> str:
        """Refund a succeeded charge as a person would in the provider's dashboard; return the refund id."""
        charge = self._charge(provider_ref)
        return self.refund(provider_ref=provider_ref, amount=charge.amount, idempotency_key=f"dashboard:{provider_ref}")

    # --- webhooks ------------------------------------------------------------------------------

    def webhook(
        self, kind: ProviderEventKind, provider_ref: str, *, event_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers of a signed webhook reporting ``kind`` for a charge.

        POST them to ``/api/payments/webhooks/fake`` (or hand them to :meth:`parse_webhook`).
        Reusing ``event_id`` makes a redelivery.
        """
        charge = self._charge(provider_ref)
        amount = None
        if kind is ProviderEventKind.REFUNDED:
            refund = self._refund_of_ref.get(provider_ref)
            amount = refund.amount.minor if refund is not None else 0
        body = {
            "id": event_id or f"fake_evt_{uuid.uuid4().hex}",
            "kind": str(kind),
            "provider_ref": provider_ref,
            "metadata": dict(charge.metadata),
            "amount_minor": amount,
            "message": charge.result.message if kind is ProviderEventKind.PAYMENT_FAILED else None,
        }
        payload = json.dumps(body).encode()
        return payload, {"content-type": "application/json", SIGNATURE_HEADER: self.sign(payload)}

    def sign(self, payload: bytes) -> str:
        """Return the signature of a webhook body."""
        return hmac.new(self.webhook_secret.encode(), payload, hashlib.sha256).hexdigest()

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify the signature made by :meth:`webhook` and read the event.

        Raises:
            InvalidWebhook: The signature is missing or wrong, or the body is not an event.
        """
        signature = headers.get(SIGNATURE_HEADER, "")
        if not signature or not hmac.compare_digest(signature.encode(), self.sign(payload).encode()):
            raise InvalidWebhook(f"Missing or wrong {SIGNATURE_HEADER} header")
        try:
            body = json.loads(payload)
            metadata = body.get("metadata") or {}
            return ProviderEvent(
                id=str(body["id"]),
                kind=ProviderEventKind(body["kind"]),
                type=str(body["kind"]),
                provider_ref=body.get("provider_ref"),
                payment_id=metadata.get("payment_id"),
                order_id=metadata.get("order_id"),
                amount_minor=body.get("amount_minor"),
                message=body.get("message"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidWebhook("The webhook body is not a fake provider event") from exc

    def _charge(self, provider_ref: str) -> FakeCharge:
        with self._lock:
            index = self._charges_by_ref.get(provider_ref)
            if index is None:
                raise ValueError(f"No such charge: {provider_ref!r}")
            return self._charges[index]


def make_fake_gateway(settings: HiveSettings, options: Mapping[str, Any]) -> FakePaymentGateway:
    """Build the fake gateway (``tok_visa`` pays, ``tok_chargeDeclined`` is declined)."""
    return FakePaymentGateway()


@hookimpl
def eventhive_register_payment_providers(register: RegisterPaymentProvider) -> None:
    """Register ``fake``."""
    register("fake", make_fake_gateway)
