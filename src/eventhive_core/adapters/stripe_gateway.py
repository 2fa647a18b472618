"""Stripe PaymentIntents through the official SDK's ``StripeClient`` (no global ``stripe`` module state).

A charge is two requests, each under its own idempotency key derived from the attempt's:

1. ``payment_intents.create`` with the amount, the card and the order's metadata, unconfirmed:
   no money can move yet, and the PaymentIntent's id is known from here on.
2. ``payment_intents.confirm``: the money moves, or the card is declined, or 3-D Secure is asked.

So when an answer is lost, the gateway knows which PaymentIntent it concerns (when step 1 got
through) and the service layer can cancel or re-read it instead of charging again; and a retry
with the same key gets Stripe's stored answer (re-read when it may be stale: Stripe replays the
first response even after the buyer passed 3-D Secure).

``token`` is a PaymentMethod id (``pm_…``, from Stripe.js) or the original client's legacy
checkout token (``tok_…``), sent as card ``payment_method_data``. Card payments are confirmed
with ``automatic_payment_methods`` allowing no redirects, so 3-D Secure comes back as
``requires_action`` with a client secret for Stripe.js rather than as a request for a return URL.

Keys never leave this module: errors are logged by type, code and request id, never with the
SDK's message (which may quote part of the key).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import stripe
from eventhive_core.domain.money import Money
from eventhive_core.ports.payments import (
    ChargeOutcome,
    ChargeRefused,
    ChargeResult,
    InvalidWebhook,
    PaymentOutcomeUnknown,
    PaymentProviderError,
    ProviderEvent,
    ProviderEventKind,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams

    from stripe import PaymentIntent

__all__ = ["MINIMUM_CHARGES", "SIGNATURE_HEADER", "StripeGateway"]

log = logging.getLogger(__name__)

#: The header carrying Stripe's webhook signature (names in lower case, as the port passes them).
SIGNATURE_HEADER = "stripe-signature"

#: Stripe's smallest charge per currency, in minor units (its documented minimum charge amounts).
MINIMUM_CHARGES: Mapping[str, int] = {
    "USD": 50,
    "AED": 200,
    "AUD": 50,
    "BGN": 100,
    "BRL": 50,
    "CAD": 50,
    "CHF": 50,
    "CZK": 1500,
    "DKK": 250,
    "EUR": 50,
    "GBP": 30,
    "HKD": 400,
    "HUF": 17500,
    "INR": 50,
    "JPY": 50,
    "MXN": 1000,
    "MYR": 200,
    "NOK": 300,
    "NZD": 50,
    "PLN": 200,
    "RON": 200,
    "SEK": 300,
    "SGD": 50,
    "THB": 1000,
}

#: PaymentIntent statuses that end an attempt without money.
_FAILED = frozenset({"requires_payment_method", "canceled"})

#: What a declined card's message is when Stripe gives none (it always does, in practice).
_DECLINED = "Your card was declined."

#: Stripe's error codes for a request refused for its amount: the buyer can do nothing about them.
_AMOUNT_CODES = frozenset({"amount_too_small", "amount_too_large"})

#: Stripe's error codes that say the buyer's payment method itself is unusable.
_BAD_METHOD_CODES = frozenset({"resource_missing", "payment_method_invalid_parameter", "token_already_used"})


def _describe(error: stripe.StripeError) -> str:
    """Say what went wrong for the log without the SDK's message (it may quote part of the API key)."""
    return f"{type(error).__name__} (HTTP {error.http_status}, code {error.code}, request {error.request_id})"


def _replayed(intent: PaymentIntent) -> bool:
    response = intent.last_response
    if response is None:
        return False
    return any(name.lower() == "idempotent-replayed" and value == "true" for name, value in response.headers.items())


def _field(source: Any, name: str) -> Any:
    """Read a field of a Stripe object or a plain dict (``None`` when absent)."""
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    try:
        return source[name]
    except (KeyError, TypeError):
        return getattr(source, name, None)


class StripeGateway:
    """The ``stripe`` payment provider.

    Args:
        secret_key: Stripe's secret API key (``sk_live_…`` or ``sk_test_…``).
        webhook_secret: The signing secret of the webhook endpoint (``whsec_…``).
        api_base: Where Stripe's API is, when not Stripe itself (a local stand-in in tests).
        timeout: Seconds before a request is given up (its outcome is then unknown).
        max_network_retries: Retries of a request that failed on the network, by the SDK, with
            the same idempotency key (so a retry never charges twice).
        automatic_payment_methods: Send ``automatic_payment_methods[enabled]=true`` with
            ``allow_redirects=never``, which server-side confirmation needs on current API versions.
            Turn it off only for a stand-in that refuses the parameter (``localstripe``).
        client: A ready ``StripeClient`` (the other connection arguments are then ignored).
    """

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        timeout: float = 30.0,
        max_network_retries: int = 2,
        automatic_payment_methods: bool = True,
        client: stripe.StripeClient | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._automatic_payment_methods = automatic_payment_methods
        self._client = client or stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:
        return "StripeGateway()"  # never the keys

    def minimum_charge(self, currency: str) -> int:
        """Return Stripe's minimum charge in ``currency``, in minor units (50 for unlisted currencies)."""
        return MINIMUM_CHARGES.get(currency.upper(), 50)

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Create and confirm a PaymentIntent for ``amount``, once per ``idempotency_key``.

        Raises:
            PaymentOutcomeUnknown: An answer was lost (with the PaymentIntent's id once it exists).
            ChargeRefused: Stripe refused the amount.
            PaymentProviderError: Stripe refused the request (bad key, bad configuration).
        """
        params: dict[str, Any] = {
            "amount": amount.minor,
            "currency": amount.currency.lower(),
            "metadata": dict(metadata),
        }
        if self._automatic_payment_methods:
            # Confirmed from the server, so no redirect-based method: 3-D Secure then comes back as
            # requires_action for Stripe.js instead of asking for a return_url.
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        if token.startswith("tok_"):
            # The migration path Stripe documents for legacy card tokens (not in the SDK's typed params).
            params["payment_method_data"] = {"type": "card", "card": {"token": token}}
        else:
            params["payment_method"] = token
        try:
            intent = self._client.v1.payment_intents.create(
                cast("PaymentIntentCreateParams", params), {"idempotency_key": f"{idempotency_key}:create"}
            )
        except stripe.CardError as exc:
            return self._declined(exc)
        except stripe.InvalidRequestError as exc:
            return self._refused(exc)
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, None) from exc
        if _replayed(intent):
            intent = self._retrieve(intent.id)
        if intent.status != "requires_confirmation":
            return self._result(intent)
        try:
            intent = self._client.v1.payment_intents.confirm(
                intent.id, {}, {"idempotency_key": f"{idempotency_key}:confirm"}
            )
        except stripe.CardError as exc:
            return self._declined(exc, intent.id)
        except stripe.InvalidRequestError as exc:
            if exc.code == "payment_intent_unexpected_state":
                return self._result(self._retrieve(intent.id))
            return self._refused(exc, intent.id)
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, intent.id) from exc
        if _replayed(intent) and intent.status in ("requires_action", "processing"):
            intent = self._retrieve(intent.id)
        return self._result(intent)

    def cancel(self, *, provider_ref: str | None, idempotency_key: str) -> ChargeResult:
        """Cancel the PaymentIntent ``provider_ref`` unless it already took the money; return where it stands.

        Without ``provider_ref`` the PaymentIntent was never confirmed (its creation's answer was
        lost before), so no money can move under it: there is nothing to cancel.
        """
        if provider_ref is None:
            return ChargeResult(ChargeOutcome.FAILED)
        try:
            intent = self._client.v1.payment_intents.cancel(
                provider_ref, {}, {"idempotency_key": f"{idempotency_key}:cancel"}
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise PaymentProviderError(_describe(exc)) from exc
            intent = self._retrieve(provider_ref)
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, provider_ref) from exc
        return self._result(intent)

    def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Refund the PaymentIntent ``provider_ref`` in full; return the refund's id.

        Raises:
            PaymentProviderError: The refund could not be made now (retry with the same key).
        """
        try:
            refund = self._client.v1.refunds.create(
                {"payment_intent": provider_ref, "amount": amount.minor}, {"idempotency_key": idempotency_key}
            )
            return str(refund.id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "charge_already_refunded":
                raise PaymentProviderError(_describe(exc)) from exc
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, provider_ref) from exc
        # Refunded already, in the dashboard or by an earlier call: report that refund.
        try:
            refunds = self._client.v1.refunds.list({"payment_intent": provider_ref, "limit": 1})
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, provider_ref) from exc
        return str(refunds.data[0].id) if refunds.data else f"refunded:{provider_ref}"

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify ``Stripe-Signature`` with the SDK (five minutes' tolerance) and read the event.

        Raises:
            InvalidWebhook: Missing, wrong or stale signature, or a body that is not an event.
        """
        signature = headers.get(SIGNATURE_HEADER)
        if not signature:
            raise InvalidWebhook("No Stripe-Signature header")
        try:
            self._client.construct_event(payload, signature, self._webhook_secret)
            event = json.loads(payload)
            kind, obj = str(event["type"]), event["data"]["object"]
            event_id = str(event["id"])
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook("The Stripe-Signature does not match this body and secret, or is too old") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("The body is not a Stripe event") from exc
        return _event_of(event_id, kind, obj if isinstance(obj, Mapping) else {})

    # --- helpers ------------------------------------------------------------------------------

    def _retrieve(self, provider_ref: str) -> PaymentIntent:
        try:
            return self._client.v1.payment_intents.retrieve(provider_ref)
        except stripe.StripeError as exc:
            raise self._lost_or_refused(exc, provider_ref) from exc

    @staticmethod
    def _result(intent: PaymentIntent) -> ChargeResult:
        status = intent.status
        if status in ("succeeded", "requires_capture"):
            return ChargeResult(ChargeOutcome.SUCCEEDED, provider_ref=intent.id)
        if status == "requires_action":
            return ChargeResult(
                ChargeOutcome.REQUIRES_ACTION, provider_ref=intent.id, client_secret=intent.client_secret
            )
        if status in _FAILED:
            message = _field(intent.last_payment_error, "message")
            if status == "canceled" and not message:
                message = "The payment was cancelled."
            return ChargeResult(ChargeOutcome.FAILED, provider_ref=intent.id, message=str(message or _DECLINED))
        # processing, or requires_confirmation left by a lost confirm: a webhook will tell.
        return ChargeResult(ChargeOutcome.PROCESSING, provider_ref=intent.id)

    @staticmethod
    def _declined(error: stripe.CardError, provider_ref: str | None = None) -> ChargeResult:
        intent = _field(error.error, "payment_intent")
        ref = _field(intent, "id") or provider_ref
        message = error.user_message or _field(error.error, "message") or _DECLINED
        return ChargeResult(ChargeOutcome.FAILED, provider_ref=ref, message=str(message))

    @staticmethod
    def _refused(error: stripe.InvalidRequestError, provider_ref: str | None = None) -> ChargeResult:
        if error.code in _AMOUNT_CODES:
            raise ChargeRefused(str(error.user_message or "The payment provider refused this amount")) from error
        if error.code in _BAD_METHOD_CODES or error.param in ("payment_method", "payment_method_data[card][token]"):
            message = "This payment method is not valid. Try another card."
            return ChargeResult(ChargeOutcome.FAILED, provider_ref=provider_ref, message=message)
        raise PaymentProviderError(_describe(error)) from error

    @staticmethod
    def _lost_or_refused(error: stripe.StripeError, provider_ref: str | None) -> PaymentProviderError:
        """Map an SDK error: a refusal that surely took no money, or an answer that may have been lost."""
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
            log.error("Stripe refused the API key: %s; check EVENTHIVE_STRIPE_SECRET_KEY", _describe(error))
            return PaymentProviderError(_describe(error))
        return PaymentOutcomeUnknown(_describe(error), provider_ref)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _event_of(event_id: str, kind: str, obj: Mapping[str, Any]) -> ProviderEvent:
    """Reduce a Stripe event to what EventHive acts on."""
    metadata = _metadata(obj)
    payment_id, order_id = _text(metadata.get("payment_id")), _text(metadata.get("order_id"))
    found: ProviderEventKind = ProviderEventKind.OTHER
    provider_ref: str | None = None
    amount: object = None
    message: str | None = None
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        found = ProviderEventKind.PAYMENT_SUCCEEDED if kind.endswith("succeeded") else ProviderEventKind.PAYMENT_FAILED
        provider_ref = _text(obj.get("id"))
        error = obj.get("last_payment_error")
        message = _text(error.get("message")) if isinstance(error, Mapping) else None
    elif kind == "charge.refunded":
        found, provider_ref, amount = (
            ProviderEventKind.REFUNDED,
            _text(obj.get("payment_intent")),
            obj.get("amount_refunded"),
        )
    elif kind.startswith("refund.") and obj.get("status") == "succeeded":
        found, provider_ref, amount = ProviderEventKind.REFUNDED, _text(obj.get("payment_intent")), obj.get("amount")
    return ProviderEvent(
        id=event_id,
        kind=found,
        type=kind,
        provider_ref=provider_ref,
        payment_id=payment_id,
        order_id=order_id,
        amount_minor=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        message=message if found is ProviderEventKind.PAYMENT_FAILED else None,
    )
