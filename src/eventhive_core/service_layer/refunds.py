"""A seller gives the money back: the order is cancelled and its units are free again.

An addition to the original, which had no refunds. Only the ticket's owner may refund, and only a
complete order. The provider refunds with the attempt's own refund key, so a retry (or a refund
the late-payment path already made) never refunds twice; then one transaction records the
payment refunded, cancels the order with reason ``refunded`` and gives its sold units back,
publishing ``payment:refunded`` (unless a dashboard refund was already recorded) and
``order:cancelled``.
"""

from __future__ import annotations

from eventhive_core.domain.commands import RefundOrder
from eventhive_core.domain.errors import NotAuthorized, NotFound, OrderNotComplete, PaymentProviderUnavailable
from eventhive_core.domain.ids import is_valid_id
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.domain.read_models import OrderView
from eventhive_core.ports.payments import PaymentProviderError
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.orders import events_of_cancelled, order_view
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.settlement import RefundReason, payment_refunded, refund_key, retrying


def _sellers_order(uow: UnitOfWork, order_id: str, actor_id: str) -> Order:
    order = uow.orders.get(order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    ticket = uow.tickets.get(order.ticket_id)
    if ticket is None or ticket.owner_id != actor_id:
        raise NotAuthorized()
    return order


def _paid_with(uow: UnitOfWork, order: Order) -> Payment | None:
    paid = [
        p for p in uow.payments.for_order(order.id) if p.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    ]
    return paid[-1] if paid else None


def refund_order(cmd: RefundOrder, services: Services) -> OrderView:
    """Refund a complete order of the seller's ticket through the provider, then cancel it.

    Raises:
        NotFound: Unknown or malformed order id.
        NotAuthorized: The caller does not own the order's ticket.
        OrderNotComplete: The order is not complete (unpaid, or cancelled already).
        PaymentProviderUnavailable: The provider could not refund now; nothing changed.
    """
    with services.storage.unit_of_work() as uow:
        order = _sellers_order(uow, cmd.order_id, cmd.actor_id)
        if order.status is not OrderStatus.COMPLETE:
            raise OrderNotComplete()
        paid = _paid_with(uow, order)
    if paid is not None and paid.status is PaymentStatus.SUCCEEDED and paid.provider_ref is not None:
        try:
            services.payment_gateway.refund(
                provider_ref=paid.provider_ref, amount=paid.amount, idempotency_key=refund_key(paid)
            )
        except PaymentProviderError as exc:
            raise PaymentProviderUnavailable() from exc

    def record_refund() -> OrderView:
        with services.storage.unit_of_work() as uow:
            order = _sellers_order(uow, cmd.order_id, cmd.actor_id)
            if order.status is OrderStatus.CANCELLED and order.cancel_reason is CancelReason.REFUNDED:
                return order_view(uow, order)  # a concurrent refund of the same order finished first
            if order.status is not OrderStatus.COMPLETE:
                raise OrderNotComplete()
            current = _paid_with(uow, order)
            if current is not None and current.status is PaymentStatus.SUCCEEDED:
                refunded = current.settled(PaymentStatus.REFUNDED)
                uow.payments.save(current, refunded)
                record(uow, services, payment_refunded(refunded, RefundReason.SELLER))
            cancelled = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.REFUNDED)
            uow.orders.save(order, cancelled)
            record(uow, services, *events_of_cancelled(cancelled))
            view = order_view(uow, cancelled)
            uow.commit()
        return view

    return retrying(record_refund)


__all__ = ["refund_order"]
