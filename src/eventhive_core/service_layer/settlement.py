"""Settling payment attempts: money that arrived, attempts that failed or wait, and refunds.

Both the buyer's synchronous pay request and the provider's webhooks end here, in whichever
order they come, and both end in the same state:

- money for the order's current attempt while its hold is live completes the order;
- money for an attempt that is no longer the current one (given up for another card), or for an
  order another payment already completed, is refunded, whatever the late-payment policy;
- money for an order whose hold ran out meets the late-payment policy (refund, or a replacement
  order if the units are still free).

No transaction stays open while the provider is called. A refund is decided in one transaction,
made through the provider with a key derived from the attempt's own (so a retry refunds once),
and recorded in a second transaction. A webhook's event id is recorded in the transaction that
records its final effect, so a delivery cut short before the refund is recorded is redone, not
dropped as a duplicate.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from eventhive_core.domain.errors import ConcurrencyConflict, PaymentProviderUnavailable
from eventhive_core.domain.events import PaymentCreated, PaymentRefunded
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.order import HOLDING_STATUSES, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.domain.read_models import PaymentView
from eventhive_core.ports.payments import PaymentProviderError
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.orders import add_replacement, expire_in, order_completed, order_created
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Local attempts at a settlement step that keeps losing races; past them the conflict surfaces.
SETTLE_ATTEMPTS = 5


class RefundReason(enum.StrEnum):
    """Why money was given back, as ``payment:refunded`` events spell it."""

    ORDER_NOT_LIVE = "order_not_live"
    """The money arrived after the order's hold ran out (and the policy did not keep it)."""
    ALREADY_PAID = "already_paid"
    """Another payment had already completed the order."""
    ATTEMPT_ABANDONED = "attempt_abandoned"
    """The attempt was given up (another card was tried, or it had failed) and succeeded anyway."""
    SELLER = "seller"
    """The ticket's seller refunded the order."""
    PROVIDER = "provider"
    """A refund made at the provider directly (its dashboard)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """A webhook event to record as processed with the settlement's final write.

    Attributes:
        subscriber: The processed-message key (``webhook:<provider>``).
        event_id: The provider's event id.
    """

    subscriber: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of money that arrived.

    Attributes:
        payment: The payment as it now stands.
        refunded: Why it was refunded, or None when the money was kept.
        duplicate: The webhook event was processed before; nothing was done.
    """

    payment: PaymentView | None
    refunded: RefundReason | None = None
    duplicate: bool = False


class _Decision(enum.Enum):
    KEEP = "keep"
    REFUND = "refund"


def payment_view(payment: Payment, client_secret: str | None = None) -> PaymentView:
    """Build the view of a payment."""
    return PaymentView(
        id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        provider_ref=payment.provider_ref,
        status=str(payment.status),
        amount=payment.amount,
        client_secret=client_secret,
    )


def retrying(step: Callable[[], T]) -> T:
    """Run a settlement step again when it loses a race, re-reading everything each time.

    Steps after a charge must not let a conflict reach the message bus: it would run the whole
    pay command again, which would find its own attempt leased and answer 409.
    """
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            return step()
        except ConcurrencyConflict:
            if attempt == SETTLE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def first_time(uow: UnitOfWork, services: Services, seen: Seen | None) -> bool:
    """Record ``seen`` in ``uow``; False if it was processed before (nothing else to do)."""
    return seen is None or uow.processed.add(seen.subscriber, seen.event_id, services.clock.now())


def is_current(uow: UnitOfWork, payment: Payment) -> bool:
    """Tell whether ``payment`` is its order's newest attempt."""
    attempts = uow.payments.for_order(payment.order_id)
    return bool(attempts) and attempts[-1].id == payment.id


def payment_created(payment: Payment) -> PaymentCreated:
    """Return the ``payment:created`` event of a succeeded payment."""
    return PaymentCreated(
        id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        provider_ref=payment.provider_ref or "",
        amount_minor=payment.amount.minor,
        currency=payment.amount.currency,
    )


def payment_refunded(payment: Payment, reason: RefundReason) -> PaymentRefunded:
    """Return the ``payment:refunded`` event of a refunded payment."""
    return PaymentRefunded(
        id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        provider_ref=payment.provider_ref or "",
        amount_minor=payment.amount.minor,
        currency=payment.amount.currency,
        reason=str(reason),
    )


def refund_key(payment: Payment) -> str:
    """Return the idempotency key of a payment's refund: one refund per attempt, whoever asks."""
    return f"{payment.idempotency_key}:refund"


def money_arrived(
    services: Services, payment: Payment, provider_ref: str | None, *, seen: Seen | None = None
) -> Settlement:
    """Settle money the provider took for ``payment``: keep it for the order, or refund it.

    Raises:
        PaymentProviderUnavailable: A refund was due but the provider could not make it now;
            nothing is recorded, so a retry (or the webhook's redelivery) refunds once.
    """
    decided = retrying(lambda: _keep_or_decide(services, payment, provider_ref, seen))
    if isinstance(decided, Settlement):
        return decided
    reason, current = decided
    return refund_and_record(services, current, reason, provider_ref=provider_ref, seen=seen)


def _keep_or_decide(
    services: Services, payment: Payment, provider_ref: str | None, seen: Seen | None
) -> Settlement | tuple[RefundReason, Payment]:
    """Keep the money if the order can take it (committing that); otherwise say why to refund it.

    A refund decision commits nothing here, not even ``seen``: the refund is recorded later.
    """
    with services.storage.unit_of_work() as uow:
        if not first_time(uow, services, seen):
            return Settlement(None, duplicate=True)
        current = uow.payments.get(payment.id)
        order = uow.orders.get(payment.order_id)
        assert current is not None, "the payment being settled exists"
        assert order is not None, "a payment always has its order"
        if current.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            uow.commit()  # a concurrent settlement got here first
            return Settlement(payment_view(current))
        paid = current.settled(PaymentStatus.SUCCEEDED, provider_ref)
        now = services.clock.now()
        if current.status is PaymentStatus.FAILED or not is_current(uow, current):
            return RefundReason.ATTEMPT_ABANDONED, current
        if not services.owns_orders:
            if order.status is OrderStatus.COMPLETE or _another_succeeded(uow, current):
                return RefundReason.ALREADY_PAID, current
            # The orders service decides whether the order takes the money: it answers
            # ``payment:created`` with ``order:completed``, or with ``order:payment_refused``,
            # which this service then refunds (see ``payment_decisions``).
            uow.payments.save(current, paid)
            record(uow, services, payment_created(paid))
            uow.commit()
            return Settlement(payment_view(paid))
        if order.status is OrderStatus.COMPLETE:
            return RefundReason.ALREADY_PAID, current
        if order.status in HOLDING_STATUSES and not is_due(order, now):
            if order.status is OrderStatus.CREATED:
                order = _moved(uow, order, OrderStatus.AWAITING_PAYMENT)
            completed = _moved(uow, order, OrderStatus.COMPLETE)
            uow.payments.save(current, paid)
            record(uow, services, payment_created(paid), order_completed(completed, paid.id))
            uow.commit()
            return Settlement(payment_view(paid))
        # The hold is over. Expire it now if nobody has (so the policy sees a cancelled order).
        if order.status in HOLDING_STATUSES:
            order = expire_in(uow, services, order)
        if services.late_payment(order, paid) == "accept_if_available":
            accepted = _accept_late(uow, services, order, current, paid)
            if accepted is not None:
                uow.commit()
                return Settlement(payment_view(accepted))
        return RefundReason.ORDER_NOT_LIVE, current


def _another_succeeded(uow: UnitOfWork, payment: Payment) -> bool:
    """Tell whether another attempt already kept money for the payment's order (its replica may not show it yet)."""
    attempts = uow.payments.for_order(payment.order_id)
    return any(p.status is PaymentStatus.SUCCEEDED and p.id != payment.id for p in attempts)


def _moved(uow: UnitOfWork, order: Order, target: OrderStatus) -> Order:
    after = order.moved_to(target)
    uow.orders.save(order, after)
    return after


def _accept_late(uow: UnitOfWork, services: Services, order: Order, current: Payment, paid: Payment) -> Payment | None:
    """Take the units again for a replacement order born complete; None if they are gone."""
    replacement = add_replacement(uow, services, order)
    if replacement is None:
        return None
    complete = _moved(uow, _moved(uow, replacement, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
    moved = paid.moved_to_order(replacement.id)
    uow.payments.save(current, moved)
    record(uow, services, order_created(complete), payment_created(moved), order_completed(complete, moved.id))
    return moved


def refund_and_record(
    services: Services,
    payment: Payment,
    reason: RefundReason,
    *,
    provider_ref: str | None = None,
    seen: Seen | None = None,
) -> Settlement:
    """Refund ``payment`` through the provider, then record it refunded and publish ``payment:refunded`` once.

    An order still holding past its expiry is expired in the same transaction, so money given
    back for a lapsed hold never leaves the hold behind.

    Raises:
        PaymentProviderUnavailable: The provider could not refund now; nothing is recorded.
    """
    ref = provider_ref or payment.provider_ref
    if ref is None:
        # Nothing names the charge at the provider: it cannot be refunded from here.
        log.error("Payment %s took money but no provider reference is known; refund it by hand", payment.id)
        return Settlement(payment_view(payment))
    try:
        services.payment_gateway.refund(provider_ref=ref, amount=payment.amount, idempotency_key=refund_key(payment))
    except PaymentProviderError as exc:
        log.warning("Refund of payment %s (%s) failed for now: %s", payment.id, reason, exc)
        raise PaymentProviderUnavailable() from exc

    def record_refund() -> Settlement:
        with services.storage.unit_of_work() as uow:
            if not first_time(uow, services, seen):
                return Settlement(None, duplicate=True)
            current = uow.payments.get(payment.id)
            assert current is not None
            if current.status is not PaymentStatus.REFUNDED:
                refunded = current.settled(PaymentStatus.REFUNDED, ref)
                uow.payments.save(current, refunded)
                record(uow, services, payment_refunded(refunded, reason))
                current = refunded
            order = uow.orders.get(current.order_id) if services.owns_orders else None
            if order is not None and order.status in HOLDING_STATUSES and is_due(order, services.clock.now()):
                expire_in(uow, services, order)
            uow.commit()
        log.info("Refunded payment %s of order %s (%s)", current.id, current.order_id, reason)
        return Settlement(payment_view(current), refunded=reason)

    return retrying(record_refund)


def fail_attempt(
    services: Services, payment: Payment, provider_ref: str | None = None, *, seen: Seen | None = None
) -> bool:
    """Mark a pending attempt failed and, if it is the current one, reopen its order for another try.

    Returns:
        False when the event was processed before; True otherwise (even when there was
        nothing left to fail).
    """

    def step() -> bool:
        with services.storage.unit_of_work() as uow:
            if not first_time(uow, services, seen):
                return False
            current = uow.payments.get(payment.id)
            if current is not None and current.status is PaymentStatus.PENDING:
                uow.payments.save(current, current.settled(PaymentStatus.FAILED, provider_ref))
                order = uow.orders.get(current.order_id) if services.owns_orders else None
                if order is not None and order.status is OrderStatus.AWAITING_PAYMENT and is_current(uow, current):
                    _moved(uow, order, OrderStatus.CREATED)
            uow.commit()
        return True

    return retrying(step)


def release_attempt(services: Services, payment: Payment, provider_ref: str | None = None) -> Payment:
    """End the lease of a pending attempt that now waits (for the buyer, a webhook or a retry)."""

    def step() -> Payment:
        with services.storage.unit_of_work() as uow:
            current = uow.payments.get(payment.id)
            assert current is not None
            if current.status is not PaymentStatus.PENDING:
                return current
            waiting = current.released(provider_ref)
            uow.payments.save(current, waiting)
            uow.commit()
            return waiting

    return retrying(step)


__all__ = [
    "SETTLE_ATTEMPTS",
    "RefundReason",
    "Seen",
    "Settlement",
    "fail_attempt",
    "first_time",
    "is_current",
    "money_arrived",
    "payment_created",
    "payment_refunded",
    "payment_view",
    "refund_and_record",
    "refund_key",
    "release_attempt",
    "retrying",
]
