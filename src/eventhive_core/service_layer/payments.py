"""Paying an order: claim it, charge outside any transaction, then settle.

1. **Claim**, in one transaction: the buyer's live order moves ``created`` → ``awaiting:payment``
   (a guarded write, so two pay requests cannot both start) and a pending attempt is recorded
   with its idempotency key and a lease for the duration of the provider call. While the lease
   runs, another pay request for the order gets 409 "A payment for this order is in progress".
2. **Charge**, with the attempt's key, outside any transaction.
3. **Settle** (see :mod:`eventhive_core.service_layer.settlement`): success completes the order
   and publishes ``payment:created``; a decline puts the order back to ``created``; 3-D Secure
   leaves the attempt pending for the buyer and the webhook.

Exactly one charge per order, on every path:

- A lost answer (transport error, timeout) leaves the attempt pending, never failed: a retry
  with the same card sends the same key, so the provider answers for the charge it already
  made instead of making another.
- Another card while an attempt is pending (an abandoned 3-D Secure, a lost answer) first
  cancels that attempt at the provider; if it had taken the money after all, the order is
  settled with it and nothing new is charged. After a decline, the failed attempt is cancelled
  too before the next one, so it cannot be completed later.
- Money for an attempt that is not the current one, or for an order already paid, is refunded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from eventhive_core.domain.commands import PayOrder
from eventhive_core.domain.errors import (
    AmountBelowMinimum,
    CannotPayCancelledOrder,
    FieldError,
    OrderAlreadyPaid,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentRefused,
    ValidationFailed,
)
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.ids import OrderId, PaymentId, new_id
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus, method_digest
from eventhive_core.domain.read_models import PaymentView
from eventhive_core.domain.validation import is_unicode_text, strip_space
from eventhive_core.observability import metrics
from eventhive_core.ports.payments import (
    ChargeOutcome,
    ChargeRefused,
    ChargeResult,
    PaymentOutcomeUnknown,
    PaymentProviderError,
)
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.orders import expire_in, load_own_order
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.settlement import (
    RefundReason,
    fail_attempt,
    money_arrived,
    payment_view,
    release_attempt,
    retrying,
)

log = logging.getLogger(__name__)

#: How long one caller may talk to the provider for an attempt before others may take it over.
#: Longer than the provider calls of one attempt can take (the Stripe gateway times out at 30 s).
CHARGE_LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the claim step leased.

    Attributes:
        attempt: The attempt to charge, or (when ``replace`` is set) the pending one to close first.
        replace: The buyer switched cards while ``attempt`` was pending: cancel it, then start anew.
        close_first: A failed earlier attempt whose provider-side charge to cancel before charging.
    """

    attempt: Payment
    replace: bool = False
    close_first: Payment | None = None


def _validate(cmd: PayOrder) -> None:
    problems: list[FieldError] = []
    if not isinstance(cmd.token, str) or not strip_space(cmd.token):
        problems.append(FieldError("Token must be provided", "token"))
    elif not is_unicode_text(cmd.token):
        problems.append(FieldError("Token must be valid text", "token"))
    if not isinstance(cmd.order_id, str) or not strip_space(cmd.order_id):
        problems.append(FieldError("OrderId must be provided", "orderId"))
    if problems:
        raise ValidationFailed(problems)


def _new_attempt(services: Services, order: Order, number: int, digest: str) -> Payment:
    now = services.clock.now()
    return Payment(
        id=PaymentId(new_id()),
        order_id=OrderId(order.id),
        provider=services.payment_gateway.name,
        amount=order.amount,
        status=PaymentStatus.PENDING,
        idempotency_key=f"order:{order.id}:pay:{number}",
        created_at=now,
        method_digest=digest,
        charging_until=now + CHARGE_LEASE,
    )


def _check_payable(uow: UnitOfWork, services: Services, order: Order) -> None:
    if order.status is OrderStatus.COMPLETE:
        raise OrderAlreadyPaid()
    if order.status is OrderStatus.CANCELLED:
        raise CannotPayCancelledOrder()
    if is_due(order, services.clock.now()):
        # The hold ran out and nobody swept it yet: expire it now (where orders live), then
        # refuse like the original.
        if services.owns_orders:
            expire_in(uow, services, order)
            uow.commit()
        raise CannotPayCancelledOrder()
    minimum = services.payment_gateway.minimum_charge(order.amount.currency)
    if order.amount.minor < minimum:
        raise AmountBelowMinimum(str(Money(minimum, order.amount.currency)))


def _claim(cmd: PayOrder, services: Services, digest: str) -> _Claim:
    """Step 1: lease the attempt this request may charge (or the pending one it must close first)."""
    with services.storage.unit_of_work() as uow:
        order = load_own_order(uow, cmd.order_id, cmd.actor_id)
        _check_payable(uow, services, order)
        now = services.clock.now()
        attempts = uow.payments.for_order(order.id)
        latest = attempts[-1] if attempts else None
        if latest is not None and latest.status is PaymentStatus.SUCCEEDED:
            # Where orders are a replica, the order may not show complete yet: the money does.
            raise OrderAlreadyPaid()
        if latest is not None and latest.status is PaymentStatus.PENDING and latest.is_charging(now):
            raise PaymentInProgress()
        # Every claim is a guarded write on the order, even when it stays awaiting payment: on
        # PostgreSQL each statement sees the newest commits, so the attempts read above may be
        # newer than the order read before them; of two claims on one order version, one loses
        # and runs again (never two attempts, never a second charge). Where the order is a
        # replica (a split's payments service), it is never written: two claims of the next
        # attempt collide on its idempotency key instead (a unique index).
        if services.owns_orders:
            moved = order.moved_to(OrderStatus.AWAITING_PAYMENT) if order.status is OrderStatus.CREATED else None
            uow.orders.save(order, moved or order.bumped())
        if latest is not None and latest.status is PaymentStatus.PENDING:
            leased = latest.charging(now + CHARGE_LEASE)
            uow.payments.save(latest, leased)
            uow.commit()
            return _Claim(leased, replace=latest.method_digest != digest)
        attempt = _new_attempt(services, order, len(attempts) + 1, digest)
        uow.payments.add(attempt)
        uow.commit()
    closable = latest is not None and latest.status is PaymentStatus.FAILED and latest.provider_ref is not None
    return _Claim(attempt, close_first=latest if closable else None)


def _close(services: Services, claim: _Claim, digest: str) -> Payment:
    """Cancel the provider-side charge of an attempt the buyer moved on from; return the attempt to charge.

    Raises:
        OrderAlreadyPaid: The pending attempt had taken the money after all: the order is settled with it.
        PaymentInProgress: The provider is still deciding on the earlier attempt.
        PaymentProviderUnavailable: The provider could not be asked.
    """
    old = claim.attempt if claim.replace else claim.close_first
    assert old is not None
    try:
        result = services.payment_gateway.cancel(provider_ref=old.provider_ref, idempotency_key=old.idempotency_key)
    except PaymentProviderError as exc:
        log.warning("Could not cancel payment %s at the provider: %s", old.id, exc)
        if claim.replace:
            release_attempt(services, old)
        else:
            fail_attempt(services, claim.attempt)  # never charged: the order is payable again
        raise PaymentProviderUnavailable() from exc
    if result.outcome is ChargeOutcome.SUCCEEDED:
        settled = money_arrived(services, old, result.provider_ref)
        if not claim.replace:
            return claim.attempt  # a failed attempt that took money anyway was refunded; go on
        if settled.refunded is RefundReason.ORDER_NOT_LIVE:
            raise CannotPayCancelledOrder()
        raise OrderAlreadyPaid()  # the earlier card paid after all: nothing more to charge
    if result.outcome is not ChargeOutcome.FAILED:
        if claim.replace:
            release_attempt(services, old, result.provider_ref)
        else:
            fail_attempt(services, claim.attempt)
        raise PaymentInProgress()
    if not claim.replace:
        return claim.attempt
    return retrying(lambda: _start_over(services, old, result, digest))


def _start_over(services: Services, old: Payment, cancelled: ChargeResult, digest: str) -> Payment:
    """Fail the cancelled attempt and lease a new one for the other card, in one transaction."""
    with services.storage.unit_of_work() as uow:
        current = uow.payments.get(old.id)
        order = uow.orders.get(old.order_id)
        assert current is not None
        assert order is not None
        if current.status is not PaymentStatus.PENDING or current.version != old.version:
            raise PaymentInProgress()  # someone else settled or took over the attempt meanwhile
        uow.payments.save(current, current.settled(PaymentStatus.FAILED, cancelled.provider_ref))
        waiting = OrderStatus.AWAITING_PAYMENT if services.owns_orders else OrderStatus.CREATED
        if order.status is not waiting or is_due(order, services.clock.now()):
            uow.commit()
            raise CannotPayCancelledOrder()
        if services.owns_orders:
            uow.orders.save(order, order.bumped())  # as in _claim: one new attempt per order version
        attempt = _new_attempt(services, order, len(uow.payments.for_order(order.id)) + 1, digest)
        uow.payments.add(attempt)
        uow.commit()
        return attempt


#: The ``outcome`` label of each answer to a charge (any other answer is a decline).
_outcomes = {
    ChargeOutcome.SUCCEEDED: "succeeded",
    ChargeOutcome.REQUIRES_ACTION: "pending",
    ChargeOutcome.PROCESSING: "pending",
}


def _charge(services: Services, attempt: Payment, token: str) -> PaymentView:
    """Steps 2 and 3: charge the leased attempt and settle what the provider answers."""
    try:
        result = services.payment_gateway.charge(
            amount=attempt.amount,
            token=token,
            idempotency_key=attempt.idempotency_key,
            metadata={"order_id": attempt.order_id, "payment_id": attempt.id},
        )
    except PaymentOutcomeUnknown as exc:
        metrics.payment("unknown")
        # Maybe charged, maybe not: keep the attempt open so a retry reuses its key.
        log.warning("Payment %s: the provider's answer was lost (%s); the attempt stays open", attempt.id, exc)
        release_attempt(services, attempt, exc.provider_ref)
        raise PaymentProviderUnavailable() from exc
    except ChargeRefused as exc:
        metrics.payment("refused")
        fail_attempt(services, attempt)
        raise PaymentRefused(str(exc) or None) from exc
    except PaymentProviderError as exc:
        metrics.payment("error")
        log.error("Payment %s: the provider refused the request: %s", attempt.id, exc)
        fail_attempt(services, attempt)
        raise PaymentProviderUnavailable() from exc
    metrics.payment(_outcomes.get(result.outcome, "declined"))
    if result.outcome is ChargeOutcome.SUCCEEDED:
        settled = money_arrived(services, attempt, result.provider_ref)
        if settled.refunded is RefundReason.ORDER_NOT_LIVE:
            raise CannotPayCancelledOrder()
        if settled.refunded is not None:
            raise OrderAlreadyPaid()
        assert settled.payment is not None
        return settled.payment
    if result.outcome in (ChargeOutcome.REQUIRES_ACTION, ChargeOutcome.PROCESSING):
        waiting = release_attempt(services, attempt, result.provider_ref)
        return payment_view(waiting, client_secret=result.client_secret)
    fail_attempt(services, attempt, result.provider_ref)
    raise PaymentDeclined(result.message) if result.message else PaymentDeclined()


def pay_order(cmd: PayOrder, services: Services) -> PaymentView:
    """Charge the buyer for their order (see the module docstring for the steps and guarantees)."""
    _validate(cmd)
    digest = method_digest(cmd.token)
    claim = _claim(cmd, services, digest)
    attempt = _close(services, claim, digest) if claim.replace or claim.close_first is not None else claim.attempt
    return _charge(services, attempt, cmd.token)


__all__ = ["CHARGE_LEASE", "pay_order"]
