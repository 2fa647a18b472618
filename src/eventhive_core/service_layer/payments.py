"""Paying an order: claim it, charge outside any transaction, then settle.

Three steps, so that no database transaction stays open while the provider is called:

1. In one transaction: the buyer's live order moves ``created`` → ``awaiting:payment`` (a
   guarded write, so two payments cannot both start) and a pending Payment records the
   idempotency key. An order already awaiting payment reuses its pending Payment and key, so
   the provider charges once however often the buyer retries.
2. The provider charge, with that key.
3. In a second transaction: success completes the order (units move from held to sold) and
   publishes ``payment:created``; failure returns the order to ``created`` for another try. Money
   that arrives for an order no longer live meets the late-payment policy.
"""

from __future__ import annotations

from dataclasses import replace

from eventhive_core.domain.commands import PayOrder
from eventhive_core.domain.errors import (
    FieldError,
    OrderAlreadyPaid,
    OrderCancelled,
    PaymentDeclined,
    PaymentProviderUnavailable,
    ValidationFailed,
)
from eventhive_core.domain.events import PaymentCreated, PaymentRefunded
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.ids import OrderId, PaymentId, new_id
from eventhive_core.domain.order import Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.ports.payments import ChargeOutcome, ChargeResult, PaymentProviderError
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.ports.views import PaymentView
from eventhive_core.service_layer.orders import expire_in, load_own_order, order_created
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services


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


def _validate(cmd: PayOrder) -> None:
    problems: list[FieldError] = []
    if not isinstance(cmd.token, str) or not cmd.token.strip():
        problems.append(FieldError("Token must be provided", "token"))
    if not isinstance(cmd.order_id, str) or not cmd.order_id.strip():
        problems.append(FieldError("OrderId must be provided", "orderId"))
    if problems:
        raise ValidationFailed(problems)


def _start(cmd: PayOrder, s: Services) -> Payment:
    """Step 1: claim the order for payment and return the pending Payment to charge."""
    with s.storage.unit_of_work() as uow:
        order = load_own_order(uow, cmd.order_id, cmd.actor_id)
        if order.status is OrderStatus.COMPLETE:
            raise OrderAlreadyPaid()
        if order.status is OrderStatus.CANCELLED:
            raise OrderCancelled()
        if is_due(order, s.clock.now()):
            # The hold ran out and nobody swept it yet: expire it now, then refuse like the original.
            expire_in(uow, s, order)
            uow.commit()
            raise OrderCancelled()
        payments = uow.payments.for_order(order.id)
        if order.status is OrderStatus.AWAITING_PAYMENT:
            pending = next((p for p in payments if p.status is PaymentStatus.PENDING), None)
            if pending is not None:
                return pending
        else:
            uow.orders.save(order, order.moved_to(OrderStatus.AWAITING_PAYMENT))
        payment = Payment(
            id=PaymentId(new_id()),
            order_id=OrderId(order.id),
            provider=s.payments.name,
            amount=order.amount,
            status=PaymentStatus.PENDING,
            idempotency_key=f"order:{order.id}:pay:{len(payments) + 1}",
            created_at=s.clock.now(),
        )
        uow.payments.add(payment)
        uow.commit()
    return payment


def _reopen(uow: UnitOfWork, order: Order) -> None:
    """Put an order that was awaiting payment back to ``created`` so the buyer may try again."""
    if order.status is OrderStatus.AWAITING_PAYMENT:
        uow.orders.save(order, order.moved_to(OrderStatus.CREATED))


def _fail(s: Services, payment: Payment) -> None:
    with s.storage.unit_of_work() as uow:
        current = uow.payments.get(payment.id)
        if current is None or current.status is not PaymentStatus.PENDING:
            return
        uow.payments.save(current.settled(PaymentStatus.FAILED))
        order = uow.orders.get(payment.order_id)
        if order is not None:
            _reopen(uow, order)
        uow.commit()


def _payment_created(payment: Payment) -> PaymentCreated:
    return PaymentCreated(
        id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        provider_ref=payment.provider_ref or "",
        amount_minor=payment.amount.minor,
        currency=payment.amount.currency,
    )


def settle_success(s: Services, payment: Payment, provider_ref: str | None) -> PaymentView:
    """Step 3 on success: complete the order, or apply the late-payment policy if it is no longer live."""
    with s.storage.unit_of_work() as uow:
        current = uow.payments.get(payment.id) or payment
        if current.status is PaymentStatus.SUCCEEDED:
            return payment_view(current)  # a concurrent retry already settled it
        order = uow.orders.get(payment.order_id)
        assert order is not None, "a payment always has its order"
        paid = current.settled(PaymentStatus.SUCCEEDED, provider_ref)
        now = s.clock.now()
        if order.status is OrderStatus.AWAITING_PAYMENT and not is_due(order, now):
            uow.orders.save(order, order.moved_to(OrderStatus.COMPLETE))
            uow.payments.save(paid)
            record(uow, s, _payment_created(paid))
            uow.commit()
            return payment_view(paid)
        if is_due(order, now):
            order = expire_in(uow, s, order)
        policy = s.late_payment(order, paid)
        accepted = _accept_late(uow, s, order, paid) if policy == "accept_if_available" else None
        if accepted is not None:
            uow.commit()
            return payment_view(accepted)
        uow.commit()
    _refund_late(s, paid)
    raise OrderCancelled()


def _accept_late(uow: UnitOfWork, s: Services, order: Order, paid: Payment) -> Payment | None:
    """Take the units again for a replacement order born complete; None if they are gone."""
    now = s.clock.now()
    if not uow.tickets.reserve(order.ticket_id, order.quantity, now):
        return None
    replacement = replace(
        order,
        id=OrderId(new_id()),
        status=OrderStatus.CREATED,
        version=0,
        cancel_reason=None,
        created_at=now,
        expires_at=s.expiration.expires_at(now),
    )
    uow.orders.add(replacement)
    awaiting = replacement.moved_to(OrderStatus.AWAITING_PAYMENT)
    uow.orders.save(replacement, awaiting)
    complete = awaiting.moved_to(OrderStatus.COMPLETE)
    uow.orders.save(awaiting, complete)
    moved = replace(paid, order_id=replacement.id)
    uow.payments.save(moved)
    record(uow, s, order_created(complete), _payment_created(moved))
    return moved


def _refund_late(s: Services, paid: Payment) -> None:
    """Give back money that arrived for an order no longer live, and record it."""
    assert paid.provider_ref is not None
    s.payments.refund(
        provider_ref=paid.provider_ref, amount=paid.amount, idempotency_key=f"{paid.idempotency_key}:refund"
    )
    with s.storage.unit_of_work() as uow:
        refunded = paid.settled(PaymentStatus.REFUNDED)
        uow.payments.save(refunded)
        record(
            uow,
            s,
            PaymentRefunded(
                id=refunded.id,
                order_id=refunded.order_id,
                provider=refunded.provider,
                provider_ref=paid.provider_ref,
                amount_minor=refunded.amount.minor,
                currency=refunded.amount.currency,
                reason="order_not_live",
            ),
        )
        uow.commit()


def pay_order(cmd: PayOrder, s: Services) -> PaymentView:
    """Charge the buyer for their order (see the module docstring for the three steps)."""
    _validate(cmd)
    payment = _start(cmd, s)
    try:
        result: ChargeResult = s.payments.charge(
            amount=payment.amount,
            token=cmd.token,
            idempotency_key=payment.idempotency_key,
            metadata={"order_id": payment.order_id, "payment_id": payment.id},
        )
    except PaymentProviderError as exc:
        _fail(s, payment)
        raise PaymentProviderUnavailable() from exc
    if result.outcome is ChargeOutcome.SUCCEEDED:
        return settle_success(s, payment, result.provider_ref)
    if result.outcome is ChargeOutcome.REQUIRES_ACTION:
        with s.storage.unit_of_work() as uow:
            waiting = payment.settled(PaymentStatus.PENDING, result.provider_ref)
            uow.payments.save(waiting)
            uow.commit()
        return payment_view(waiting, client_secret=result.client_secret)
    _fail(s, payment)
    raise PaymentDeclined(result.message) if result.message else PaymentDeclined()
