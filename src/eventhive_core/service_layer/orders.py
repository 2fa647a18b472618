"""Placing, cancelling and expiring orders; the reservation itself is the storage's atomic step."""

from __future__ import annotations

import enum
from datetime import datetime

from eventhive_core.domain.commands import CancelOrder, ExpireOrder, PlaceOrder, SweepExpired
from eventhive_core.domain.errors import (
    ConcurrencyConflict,
    FieldError,
    NotAuthorized,
    NotFound,
    OrderComplete,
    OwnTicket,
    SoldOut,
    ValidationFailed,
)
from eventhive_core.domain.events import ExpirationComplete, OrderCancelled, OrderCreated
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.ids import OrderId, TicketId, UserId, is_valid_id, new_id
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.validation import quantity_errors
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.ports.views import OrderView
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services

#: How many due holds one reclaim may cancel inside a reservation's transaction.
RECLAIM_LIMIT = 100


class ExpireResult(enum.StrEnum):
    """What an expiry did; every outcome but ``expired`` changed nothing."""

    EXPIRED = "expired"
    NOT_DUE = "not_due"
    ALREADY_FINAL = "already_final"
    NOT_FOUND = "not_found"


def events_of_cancelled(cancelled: Order) -> list[ExpirationComplete | OrderCancelled]:
    """Return the events of an order as cancelled: ``expiration:complete`` first when it was an expiry."""
    events: list[ExpirationComplete | OrderCancelled] = []
    if cancelled.cancel_reason is CancelReason.EXPIRED:
        events.append(ExpirationComplete(order_id=cancelled.id))
    events.append(
        OrderCancelled(
            id=cancelled.id,
            version=cancelled.version,
            ticket_id=cancelled.ticket_id,
            quantity=cancelled.quantity,
            reason=str(cancelled.cancel_reason),
        )
    )
    return events


def expire_in(uow: UnitOfWork, s: Services, order: Order) -> Order:
    """Cancel a due order as expired inside ``uow`` (guarded write) and record its events."""
    cancelled = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED)
    uow.orders.save(order, cancelled)
    record(uow, s, *events_of_cancelled(cancelled))
    return cancelled


def expire_all_in(uow: UnitOfWork, s: Services, due: list[Order]) -> int:
    """Expire ``due`` orders inside ``uow``; return how many this unit expired.

    An order that another process expired, paid or cancelled since it was read loses its
    guarded write: it is skipped, not retried, because it no longer needs this unit.
    """
    expired = 0
    for order in due:
        try:
            expire_in(uow, s, order)
        except ConcurrencyConflict:
            continue
        expired += 1
    return expired


def reclaim_due_holds(uow: UnitOfWork, s: Services, ticket_id: str, now: datetime) -> int:
    """Expire the ticket's holds that ran out, inside ``uow``; return how many."""
    return expire_all_in(uow, s, uow.orders.due(now, RECLAIM_LIMIT, ticket_id=ticket_id))


def order_view(uow: UnitOfWork, order: Order) -> OrderView:
    """Build the view of an order from inside a unit of work."""
    ticket = uow.tickets.get(order.ticket_id)
    assert ticket is not None, "an order always has its ticket"
    return OrderView.of(order, ticket)


def order_created(order: Order) -> OrderCreated:
    """Return the ``order:created`` event of a new order."""
    return OrderCreated(
        id=order.id,
        version=order.version,
        status=str(order.status),
        buyer_id=order.buyer_id,
        ticket_id=order.ticket_id,
        quantity=order.quantity,
        expires_at=order.expires_at,
        amount_minor=order.amount.minor,
        currency=order.amount.currency,
    )


def place_order(cmd: PlaceOrder, s: Services) -> OrderView:
    """Reserve units for a buyer atomically; publishes ``order:created``.

    The storage takes the units in one conditional step; if they do not fit, due holds of the
    ticket are expired in the same transaction and the step is tried once more, so an expired
    hold never turns a buyer away.
    """
    problems: list[FieldError] = []
    if not is_valid_id(cmd.ticket_id):
        problems.append(FieldError("Valid TicketId must be provided", "ticketId"))
    problems += quantity_errors(cmd.quantity, s.settings.max_units_per_order)
    if problems:
        raise ValidationFailed(problems)
    with s.storage.unit_of_work() as uow:
        ticket = uow.tickets.get(cmd.ticket_id)
        if ticket is None:
            raise NotFound()
        if uow.users.get(cmd.buyer_id) is None:
            raise NotAuthorized()
        if ticket.owner_id == cmd.buyer_id:
            raise OwnTicket()
        now = s.clock.now()
        # Everything is built before the reservation: from the conditional UPDATE on, the
        # ticket's row is locked, so only the inserts and the commit should run under it.
        order = Order(
            id=OrderId(new_id()),
            ticket_id=TicketId(ticket.id),
            buyer_id=UserId(cmd.buyer_id),
            status=OrderStatus.CREATED,
            expires_at=s.expiration.expires_at(now, s.ttl_for(ticket, cmd.quantity)),
            created_at=now,
            amount=ticket.price * cmd.quantity,
            quantity=cmd.quantity,
        )
        view = OrderView.of(order, ticket)
        # Reclaim due holds before refusing: an expired hold must never turn a buyer away.
        if not uow.tickets.reserve(ticket.id, cmd.quantity, now) and (
            not reclaim_due_holds(uow, s, ticket.id, now) or not uow.tickets.reserve(ticket.id, cmd.quantity, now)
        ):
            raise SoldOut()
        uow.orders.add(order)
        record(uow, s, order_created(order))
        uow.commit()
    return view


def load_own_order(uow: UnitOfWork, order_id: str, actor_id: str) -> Order:
    """Return the actor's order; NotFound for unknown or malformed ids, NotAuthorized for others' orders."""
    order = uow.orders.get(order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    if order.buyer_id != actor_id:
        raise NotAuthorized()
    return order


def cancel_order(cmd: CancelOrder, s: Services) -> OrderView:
    """The buyer cancels an unpaid order; publishes ``order:cancelled``.

    A complete order cannot be cancelled (400) and cancelling a cancelled one changes nothing and
    publishes nothing (the original re-cancelled both). A hold that already ran out is recorded as
    expired, which is what happened to it.
    """
    with s.storage.unit_of_work() as uow:
        order = load_own_order(uow, cmd.order_id, cmd.actor_id)
        if order.status is OrderStatus.COMPLETE:
            raise OrderComplete()
        if order.status is OrderStatus.CANCELLED:
            return order_view(uow, order)
        if is_due(order, s.clock.now()):
            cancelled = expire_in(uow, s, order)
        else:
            cancelled = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.BUYER)
            uow.orders.save(order, cancelled)
            record(uow, s, *events_of_cancelled(cancelled))
        view = order_view(uow, cancelled)
        uow.commit()
    return view


def expire_order(cmd: ExpireOrder, s: Services) -> ExpireResult:
    """Cancel an order whose hold ran out. Idempotent: a repeat or a paid order changes nothing."""
    if not is_valid_id(cmd.order_id):
        return ExpireResult.NOT_FOUND
    with s.storage.unit_of_work() as uow:
        order = uow.orders.get(cmd.order_id)
        if order is None:
            return ExpireResult.NOT_FOUND
        if order.status.is_final:
            return ExpireResult.ALREADY_FINAL
        if not is_due(order, s.clock.now()):
            return ExpireResult.NOT_DUE
        expire_in(uow, s, order)
        uow.commit()
    return ExpireResult.EXPIRED


def sweep_expired(cmd: SweepExpired, s: Services) -> int:
    """Expire every due hold, one set-based batch per transaction; return how many were expired.

    Each batch is one ``expire_due`` in the storage and one write of all its events, so a
    sweep's cost grows with the number of batches rather than with the number of holds.
    """
    total = 0
    while True:
        with s.storage.unit_of_work() as uow:
            cancelled = uow.orders.expire_due(s.clock.now(), cmd.batch_size)
            record(uow, s, *(event for order in cancelled for event in events_of_cancelled(order)))
            uow.commit()
        total += len(cancelled)
        if len(cancelled) < cmd.batch_size:
            return total
