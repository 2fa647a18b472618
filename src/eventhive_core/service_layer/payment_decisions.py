"""Money taken by one service for an order another service owns: the orders service decides, payments follows.

In a split platform the payments service charges against its replica of the order, which may
be a moment behind: the hold may have run out, or another payment may have completed the order,
at the orders service meanwhile (the original's flaw 6 completed such orders anyway). So the
payments service only records that the money arrived (``payment:created``), and the orders
service, where the order lives, answers with exactly one event:

- ``order:completed`` when the order's hold is live: the money is kept;
- ``order:completed`` for a *replacement* order when the hold is over but the late-payment
  policy accepts the money and the units are still free (``accept_if_available``); the payment
  then follows its new order (:func:`attach_to_replacement`);
- ``order:payment_refused`` otherwise, which the payments service turns into a refund, once.

A seller's refund of a complete order goes the same way: the orders service cancels the order
(``order:cancelled``, reason ``refunded``) and the payments service gives the money back.

Each reaction runs in its subscriber's unit of work with the processed-message record, so a
redelivered event changes nothing. The whole platform in one process settles in one
transaction instead (:mod:`eventhive_core.service_layer.settlement`) and never sees these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from eventhive_core.contracts.codec import parse_message, to_domain_event
from eventhive_core.domain.events import (
    DomainEvent,
    OrderCancelled,
    OrderCompleted,
    OrderPaymentRefused,
    PaymentCreated,
)
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.ids import OrderId, PaymentId
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import HOLDING_STATUSES, CancelReason, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.observability import metrics
from eventhive_core.ports.event_bus import Delivery, Subscription
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler, counting_failures, on_event
from eventhive_core.service_layer.orders import add_replacement, expire_in, order_completed, order_created
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.replicas import ReplicaBehind
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.settlement import RefundReason, Seen, refund_and_record

log = logging.getLogger(__name__)

#: Subscriber names; they key processed-message records, so they never change.
SETTLE_PAYMENT: Final = "orders.settle_payment"
REFUND_REFUSED_PAYMENT: Final = "payments.refund_refused_payment"
ATTACH_TO_REPLACEMENT: Final = "payments.attach_payment_to_replacement"
REFUND_SELLERS_REFUND: Final = "payments.refund_sellers_refund"


class PaymentForUnknownOrder(LookupError):
    """A ``payment:created`` names an order the orders service does not have (delivered again, then dead-lettered)."""


def settle_payment(event: PaymentCreated, uow: UnitOfWork, services: Services) -> None:
    """Keep or refuse money the payments service took, inside the subscriber's ``uow``.

    Raises:
        PaymentForUnknownOrder: No such order here.
    """
    order = uow.orders.get(event.order_id)
    if order is None:
        raise PaymentForUnknownOrder(f"payment {event.id} names order {event.order_id}, which the orders service lacks")
    now = services.clock.now()
    if order.status in HOLDING_STATUSES and not is_due(order, now):
        completed = order.moved_to(OrderStatus.COMPLETE)
        uow.orders.save(order, completed)
        record(uow, services, order_completed(completed, event.id))
        return
    if order.status is OrderStatus.COMPLETE:
        _refuse(uow, services, event, RefundReason.ALREADY_PAID)
        return
    if order.status in HOLDING_STATUSES:
        order = expire_in(uow, services, order)  # due but not yet swept: the policy judges a cancelled order
    if services.late_payment(order, _as_payment(event, order)) == "accept_if_available":
        replacement = add_replacement(uow, services, order)
        if replacement is not None:
            completed = replacement.moved_to(OrderStatus.COMPLETE)
            uow.orders.save(replacement, completed)
            record(uow, services, order_created(replacement), order_completed(completed, event.id))
            return
    _refuse(uow, services, event, RefundReason.ORDER_NOT_LIVE)


def _refuse(uow: UnitOfWork, services: Services, event: PaymentCreated, reason: RefundReason) -> None:
    log.info("Refused payment %s for order %s (%s): the payments service refunds it", event.id, event.order_id, reason)
    record(uow, services, OrderPaymentRefused(order_id=event.order_id, payment_id=event.id, reason=str(reason)))


def _as_payment(event: PaymentCreated, order: Order) -> Payment:
    """The payment as the late-payment policy sees it (the orders service keeps no payments)."""
    return Payment(
        id=PaymentId(event.id),
        order_id=OrderId(order.id),
        provider=event.provider,
        amount=Money(event.amount_minor, event.currency),
        status=PaymentStatus.SUCCEEDED,
        idempotency_key="",
        created_at=order.created_at,
        provider_ref=event.provider_ref,
    )


def settle_payment_subscriber(services: Services) -> Subscription[SubscriberHandler]:
    """Return ``orders.settle_payment``: role ``orders``, on ``payment:created``."""
    return on_event(SETTLE_PAYMENT, "orders", PaymentCreated, lambda event, uow: settle_payment(event, uow, services))


def _refund_delivery(
    services: Services, name: str, to_refund: Callable[[DomainEvent, UnitOfWork], tuple[Payment, RefundReason] | None]
) -> Delivery:
    """Return a bus callback that refunds the payment ``to_refund`` picks for an event, once.

    Not an ordinary subscriber: the refund calls the provider, which must happen outside any
    transaction, and the event is recorded as processed in the transaction that records the
    refund (as a webhook's is), so a crash before that is redelivered and refunds once (the
    provider call carries the attempt's refund key).
    """

    def deliver(message: Message) -> None:
        event = to_domain_event(parse_message(message))
        with services.storage.unit_of_work() as uow:
            picked = to_refund(event, uow)
        if picked is not None:
            payment, reason = picked
            refund_and_record(services, payment, reason, seen=Seen(name, message.id))
        metrics.event_consumed(name, message.type, "processed")

    return counting_failures(name, deliver)


def _refused_payment(event: DomainEvent, uow: UnitOfWork) -> tuple[Payment, RefundReason] | None:
    assert isinstance(event, OrderPaymentRefused)
    payment = uow.payments.get(event.payment_id)
    if payment is None or payment.status is not PaymentStatus.SUCCEEDED:
        log.info("Nothing to refund for refused payment %s (%s)", event.payment_id, payment and payment.status)
        return None
    return payment, RefundReason(event.reason)


def _sellers_refund(event: DomainEvent, uow: UnitOfWork) -> tuple[Payment, RefundReason] | None:
    assert isinstance(event, OrderCancelled)
    if event.reason != CancelReason.REFUNDED:
        return None
    kept = [p for p in uow.payments.for_order(event.id) if p.status is PaymentStatus.SUCCEEDED]
    return (kept[-1], RefundReason.SELLER) if kept else None


def refund_refused_payment_delivery(services: Services) -> Delivery:
    """Return the bus callback of ``payments.refund_refused_payment`` (on ``order:payment_refused``)."""
    return _refund_delivery(services, REFUND_REFUSED_PAYMENT, _refused_payment)


def refund_sellers_refund_delivery(services: Services) -> Delivery:
    """Return the bus callback of ``payments.refund_sellers_refund`` (on ``order:cancelled``).

    A seller refunds a complete order at the orders service, which cancels it (reason
    ``refunded``); the money is given back here, where the payment is.
    """
    return _refund_delivery(services, REFUND_SELLERS_REFUND, _sellers_refund)


def attach_to_replacement(event: OrderCompleted, uow: UnitOfWork) -> None:
    """Move the payment that completed a replacement order onto it (the payments service's records)."""
    payment = uow.payments.get(event.payment_id)
    if payment is None or payment.order_id == event.id:
        return
    if uow.orders.get(event.id) is None:
        # The replacement's order:created reaches its own subscriber independently of this one.
        raise ReplicaBehind(f"order {event.id}", None, event.version)
    uow.payments.save(payment, payment.moved_to_order(OrderId(event.id)))


def attach_to_replacement_subscriber() -> Subscription[SubscriberHandler]:
    """Return ``payments.attach_payment_to_replacement``: role ``payments``, on ``order:completed``."""
    return on_event(ATTACH_TO_REPLACEMENT, "payments", OrderCompleted, attach_to_replacement)


__all__ = [
    "ATTACH_TO_REPLACEMENT",
    "REFUND_REFUSED_PAYMENT",
    "REFUND_SELLERS_REFUND",
    "SETTLE_PAYMENT",
    "PaymentForUnknownOrder",
    "attach_to_replacement",
    "attach_to_replacement_subscriber",
    "refund_refused_payment_delivery",
    "refund_sellers_refund_delivery",
    "settle_payment",
    "settle_payment_subscriber",
]
