"""A payment provider's webhooks: verified, recorded once, and settled like the synchronous answer.

The provider reports what became of an attempt: money taken, a failure, a refund. Each verified
event id is stored as processed with the change it causes, so a redelivery changes nothing. A
verified event about a payment EventHive does not know is acknowledged and logged: answering
with an error would only make the provider retry it for days. A storage or provider failure
surfaces as a 5xx, so the provider delivers the event again.
"""

from __future__ import annotations

import enum
import logging

from eventhive_core.domain.commands import ReceivePaymentEvent
from eventhive_core.domain.errors import NotFound, WebhookRejected
from eventhive_core.domain.ids import is_valid_id
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.observability import metrics
from eventhive_core.ports.payments import InvalidWebhook, ProviderEvent, ProviderEventKind
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.settlement import (
    RefundReason,
    Seen,
    fail_attempt,
    first_time,
    is_current,
    money_arrived,
    payment_refunded,
    retrying,
)

log = logging.getLogger(__name__)


class WebhookOutcome(enum.StrEnum):
    """What a webhook delivery did."""

    APPLIED = "applied"
    """The event was settled (even if there was nothing left to change)."""
    DUPLICATE = "duplicate"
    """The event id was processed before; nothing changed."""
    IGNORED = "ignored"
    """Verified, but about nothing EventHive acts on (another event type, an unknown payment)."""


def _find_payment(services: Services, event: ProviderEvent) -> Payment | None:
    with services.storage.unit_of_work() as uow:
        if event.payment_id and is_valid_id(event.payment_id):
            payment = uow.payments.get(event.payment_id)
            if payment is not None and payment.provider == services.payment_gateway.name:
                return payment
        if event.provider_ref:
            return uow.payments.by_provider_ref(services.payment_gateway.name, event.provider_ref)
    return None


def _acknowledge(services: Services, seen: Seen) -> WebhookOutcome:
    with services.storage.unit_of_work() as uow:
        if not first_time(uow, services, seen):
            return WebhookOutcome.DUPLICATE
        uow.commit()
    return WebhookOutcome.IGNORED


def _refunded_at_provider(services: Services, payment: Payment, event: ProviderEvent, seen: Seen) -> WebhookOutcome:
    """Record a refund the provider reports (ours echoed back, or one made in its dashboard).

    The order is left as it is: a dashboard refund of a complete order keeps its units sold
    until the seller decides (``POST /api/orders/<id>/refund`` then cancels it).
    """

    def step() -> WebhookOutcome:
        with services.storage.unit_of_work() as uow:
            if not first_time(uow, services, seen):
                return WebhookOutcome.DUPLICATE
            current = uow.payments.get(payment.id)
            assert current is not None
            in_full = event.amount_minor is None or event.amount_minor >= current.amount.minor
            if current.status is PaymentStatus.SUCCEEDED and in_full:
                refunded = current.settled(PaymentStatus.REFUNDED, event.provider_ref)
                uow.payments.save(current, refunded)
                record(uow, services, payment_refunded(refunded, RefundReason.PROVIDER))
            elif current.status is PaymentStatus.SUCCEEDED:
                log.warning(
                    "Payment %s was partly refunded at the provider (%s of %s minor units); recorded as paid",
                    current.id,
                    event.amount_minor,
                    current.amount.minor,
                )
            uow.commit()
        return WebhookOutcome.APPLIED

    return retrying(step)


def _failed_at_provider(services: Services, payment: Payment, event: ProviderEvent, seen: Seen) -> WebhookOutcome:
    """Fail the attempt, but only if it is the order's current one: an old attempt's failure is moot."""
    with services.storage.unit_of_work() as uow:
        current = is_current(uow, payment)
    if not current:
        return _acknowledge(services, seen)
    processed = fail_attempt(services, payment, event.provider_ref, seen=seen)
    return WebhookOutcome.APPLIED if processed else WebhookOutcome.DUPLICATE


def receive_payment_event(cmd: ReceivePaymentEvent, services: Services) -> WebhookOutcome:
    """Verify a provider's webhook and settle what it reports.

    Raises:
        NotFound: The webhook names another provider than the one configured.
        WebhookRejected: The signature is missing, wrong or stale, or the body is not an event.
        PaymentProviderUnavailable: A refund it calls for could not be made now (the provider retries).
    """
    try:
        outcome = _receive(cmd, services)
    except WebhookRejected:
        metrics.webhook("rejected")
        raise
    metrics.webhook(outcome)
    return outcome


def _receive(cmd: ReceivePaymentEvent, services: Services) -> WebhookOutcome:
    if cmd.provider != services.payment_gateway.name:
        raise NotFound()
    headers = {name.lower(): value for name, value in cmd.headers.items()}
    try:
        event = services.payment_gateway.parse_webhook(cmd.payload, headers)
    except InvalidWebhook as exc:
        log.info("Refused a %s webhook: %s", cmd.provider, exc)
        raise WebhookRejected() from exc
    seen = Seen(f"webhook:{services.payment_gateway.name}", event.id)
    if event.kind is ProviderEventKind.OTHER:
        return _acknowledge(services, seen)
    payment = _find_payment(services, event)
    if payment is None:
        log.warning(
            "Acknowledged %s webhook %s (%s) about an unknown payment (ref %s, payment %s)",
            cmd.provider,
            event.id,
            event.type,
            event.provider_ref,
            event.payment_id,
        )
        return _acknowledge(services, seen)
    if event.kind is ProviderEventKind.PAYMENT_SUCCEEDED:
        settled = money_arrived(services, payment, event.provider_ref, seen=seen)
        return WebhookOutcome.DUPLICATE if settled.duplicate else WebhookOutcome.APPLIED
    if event.kind is ProviderEventKind.PAYMENT_FAILED:
        return _failed_at_provider(services, payment, event, seen)
    return _refunded_at_provider(services, payment, event, seen)


__all__ = ["WebhookOutcome", "receive_payment_event"]
