"""Placing, cancelling and expiring orders; the reservation itself is the storage's atomic step.

An order placed with an Idempotency-Key records the key on its own row, in the transaction that
places it: a retry after any crash finds that order and gets it back instead of a second one.
The rest of the key's handling (refusals given again, duplicates sent at once) is described in
:mod:`eventhive_core.service_layer.idempotency`.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime

from eventhive_core.domain.commands import CancelOrder, ExpireOrder, PlaceOrder, SweepExpired
from eventhive_core.domain.errors import (
    CannotCancelCompleteOrder,
    CannotOrderOwnTicket,
    ConcurrencyConflict,
    EventHiveError,
    FieldError,
    IdempotencyKeyReused,
    NotAuthorized,
    NotFound,
    SoldOut,
    ValidationFailed,
)
from eventhive_core.domain.events import ExpirationComplete, OrderCancelled, OrderCompleted, OrderCreated
from eventhive_core.domain.expiration import is_due
from eventhive_core.domain.ids import OrderId, TicketId, UserId, is_valid_id, new_id
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.read_models import OrderView
from eventhive_core.domain.validation import idempotency_key_errors, quantity_errors
from eventhive_core.observability import metrics
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.idempotency import fingerprint, is_kept, keep_refusal, replay_refusal
from eventhive_core.service_layer.publishing import record
from eventhive_core.service_layer.services import Services
from eventhive_core.service_layer.users import require_known_user

#: How many due holds one reclaim may cancel inside a reservation's transaction.
RECLAIM_LIMIT = 100


class ExpireResult(enum.StrEnum):
    """What an expiry did; every outcome but ``expired`` changed nothing.

    ``swept`` only answers an expiry fired by a scheduler that ran late: a catch-up sweep of the
    same process had already ended the hold (see :mod:`eventhive_core.service_layer.expiry`).
    """

    EXPIRED = "expired"
    NOT_DUE = "not_due"
    ALREADY_FINAL = "already_final"
    NOT_FOUND = "not_found"
    SWEPT = "swept"


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


def expire_in(uow: UnitOfWork, services: Services, order: Order) -> Order:
    """Cancel a due order as expired inside ``uow`` (guarded write) and record its events."""
    cancelled = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED)
    uow.orders.save(order, cancelled)
    record(uow, services, *events_of_cancelled(cancelled))
    metrics.holds_expired("order", services.clock.now(), [order.expires_at])
    return cancelled


def expire_all_in(uow: UnitOfWork, services: Services, due: list[Order]) -> int:
    """Expire ``due`` orders inside ``uow``; return how many this unit expired.

    An order that another process expired, paid or cancelled since it was read loses its
    guarded write: it is skipped, not retried, because it no longer needs this unit.
    """
    expired = 0
    for order in due:
        try:
            expire_in(uow, services, order)
        except ConcurrencyConflict:
            continue
        expired += 1
    return expired


def reclaim_due_holds(uow: UnitOfWork, services: Services, ticket_id: str, now: datetime) -> int:
    """Expire the ticket's holds that ran out, inside ``uow``; return how many."""
    return expire_all_in(uow, services, uow.orders.due(now, RECLAIM_LIMIT, ticket_id=ticket_id))


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


def add_replacement(uow: UnitOfWork, services: Services, lapsed: Order) -> Order | None:
    """Take a lapsed order's units again for a new order in ``created``, inside ``uow``; None if they are gone.

    What a late payment accepted under ``accept_if_available`` completes instead of the order
    whose hold ran out.
    """
    now = services.clock.now()
    if not uow.tickets.reserve(lapsed.ticket_id, lapsed.quantity, now):
        return None
    replacement = replace(
        lapsed,
        id=OrderId(new_id()),
        status=OrderStatus.CREATED,
        version=0,
        cancel_reason=None,
        created_at=now,
        expires_at=services.expiration.expires_at(now),
        idempotency_key=None,
    )
    uow.orders.add(replacement)
    return replacement


def order_completed(order: Order, payment_id: str) -> OrderCompleted:
    """Return the ``order:completed`` event of an order ``payment_id`` just completed."""
    return OrderCompleted(
        id=order.id,
        version=order.version,
        ticket_id=order.ticket_id,
        quantity=order.quantity,
        payment_id=payment_id,
    )


def place_order(cmd: PlaceOrder, services: Services) -> OrderView:
    """Reserve units for a buyer atomically; publishes ``order:created``.

    The storage takes the units in one conditional step; if they do not fit, due holds of the
    ticket are expired in the same transaction and the step is tried once more, so an expired
    hold never turns a buyer away.

    With an ``idempotency_key``, all of this happens in one unit of work with the key: the
    buyer's order placed with it before is returned (``replayed=True``, as it is now, with no
    new reservation or event); a refusal given to it before is given again (ReplayedRefusal);
    otherwise the order is placed with the key on its row, or the refusal is kept under the key.

    Raises:
        IdempotencyKeyReused: The key placed or was refused another ticket or quantity.
        ReplayedRefusal: The key was refused before, for this ticket and quantity.
    """
    try:
        view = _place(cmd, services)
    except SoldOut:
        metrics.reservation_sold_out()
        raise
    if not view.replayed:
        metrics.reservation_placed()
    return view


def _place(cmd: PlaceOrder, services: Services) -> OrderView:
    if cmd.idempotency_key is not None:
        return _place_keyed_order(cmd, cmd.idempotency_key, services)
    if problems := _order_problems(cmd, services):
        raise ValidationFailed(problems)
    with services.storage.unit_of_work() as uow:
        view = _reserve_and_record(uow, services, cmd)
        uow.commit()
    return view


def _place_keyed_order(cmd: PlaceOrder, key: str, services: Services) -> OrderView:
    if key_problems := idempotency_key_errors(key):
        # Not kept: there is no usable key to keep it under.
        raise ValidationFailed(key_problems + _order_problems(cmd, services))
    # Refusals live apart from the payment route's keys, which the Flask extension keeps per user.
    scope, asked = f"orders:{cmd.buyer_id}", fingerprint(cmd.ticket_id, cmd.quantity)
    with services.storage.unit_of_work() as uow:
        now = services.clock.now()
        until = now + services.settings.idempotency_ttl
        # The claim comes first: a duplicate sent at the same time waits here until this unit
        # ends, then finds our order or our refusal below instead of racing us for the units.
        stored = uow.idempotency.begin(scope, key, asked, now, until)
        placed = uow.orders.by_idempotency_key(cmd.buyer_id, key)
        if placed is not None:
            if (placed.ticket_id, placed.quantity) != (cmd.ticket_id, cmd.quantity):
                raise IdempotencyKeyReused()
            return replace(order_view(uow, placed), replayed=True)
        if stored is not None:
            replay_refusal(stored, asked)
        # From here on the order's own row answers for the key, so the claim goes (with this unit).
        uow.idempotency.abandon(scope, key)
        try:
            if problems := _order_problems(cmd, services):
                raise ValidationFailed(problems)
            view = _reserve_and_record(uow, services, cmd, key)
        except EventHiveError as refusal:
            if not is_kept(refusal):
                raise
            # Nothing of the attempt is kept (as without a key), only the refusal.
            uow.rollback()
            keep_refusal(uow, scope, key, asked, refusal, now, until)
            uow.commit()
            raise
        uow.commit()
    return view


def _order_problems(cmd: PlaceOrder, services: Services) -> list[FieldError]:
    problems: list[FieldError] = []
    if not is_valid_id(cmd.ticket_id):
        problems.append(FieldError("Valid TicketId must be provided", "ticketId"))
    return problems + quantity_errors(cmd.quantity, services.settings.max_units_per_order)


def _reserve_and_record(uow: UnitOfWork, services: Services, cmd: PlaceOrder, key: str | None = None) -> OrderView:
    """Reserve the units and record the order and its event inside ``uow`` (the caller commits).

    The reservation comes first and the ticket is read with it (one round trip on PostgreSQL);
    the checks that refuse an order keep their precedence: an unknown ticket, then the seller's
    own ticket, then sold out. A refused order takes nothing: the caller's unit rolls back.
    """
    require_known_user(uow, services, cmd.buyer_id)
    now = services.clock.now()
    # Reclaim due holds before refusing: an expired hold must never turn a buyer away.
    reserved = uow.tickets.reserve(cmd.ticket_id, cmd.quantity, now) or (
        reclaim_due_holds(uow, services, cmd.ticket_id, now) > 0
        and uow.tickets.reserve(cmd.ticket_id, cmd.quantity, now)
    )
    ticket = uow.tickets.get(cmd.ticket_id)
    if ticket is None:
        raise NotFound()
    if ticket.owner_id == cmd.buyer_id:
        raise CannotOrderOwnTicket()
    if not reserved:
        raise SoldOut()
    order = Order(
        id=OrderId(new_id()),
        ticket_id=TicketId(ticket.id),
        buyer_id=UserId(cmd.buyer_id),
        status=OrderStatus.CREATED,
        expires_at=services.expiration.expires_at(now, services.ttl_for(ticket, cmd.quantity)),
        created_at=now,
        amount=ticket.price * cmd.quantity,
        quantity=cmd.quantity,
        idempotency_key=key,
    )
    view = OrderView.of(order, ticket)
    uow.orders.add(order)
    record(uow, services, order_created(order))
    return view


def load_own_order(uow: UnitOfWork, order_id: str, actor_id: str) -> Order:
    """Return the actor's order; NotFound for unknown or malformed ids, NotAuthorized for others' orders."""
    order = uow.orders.get(order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    if order.buyer_id != actor_id:
        raise NotAuthorized()
    return order


def cancel_order(cmd: CancelOrder, services: Services) -> OrderView:
    """The buyer cancels an unpaid order; publishes ``order:cancelled``.

    A complete order cannot be cancelled (400) and cancelling a cancelled one changes nothing and
    publishes nothing (the original re-cancelled both). A hold that already ran out is recorded as
    expired, which is what happened to it.
    """
    with services.storage.unit_of_work() as uow:
        order = load_own_order(uow, cmd.order_id, cmd.actor_id)
        if order.status is OrderStatus.COMPLETE:
            raise CannotCancelCompleteOrder()
        if order.status is OrderStatus.CANCELLED:
            return order_view(uow, order)
        if is_due(order, services.clock.now()):
            cancelled = expire_in(uow, services, order)
        else:
            cancelled = order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.BUYER)
            uow.orders.save(order, cancelled)
            record(uow, services, *events_of_cancelled(cancelled))
        view = order_view(uow, cancelled)
        uow.commit()
    return view


def expire_order(cmd: ExpireOrder, services: Services) -> ExpireResult:
    """Cancel an order whose hold ran out. Idempotent: a repeat or a paid order changes nothing."""
    if not is_valid_id(cmd.order_id):
        return ExpireResult.NOT_FOUND
    with services.storage.unit_of_work() as uow:
        order = uow.orders.get(cmd.order_id)
        if order is None:
            return ExpireResult.NOT_FOUND
        if order.status.is_final:
            return ExpireResult.ALREADY_FINAL
        if not is_due(order, services.clock.now()):
            return ExpireResult.NOT_DUE
        expire_in(uow, services, order)
        uow.commit()
    return ExpireResult.EXPIRED


def sweep_expired(cmd: SweepExpired, services: Services) -> int:
    """Expire every due hold, one set-based batch per transaction; return how many were expired.

    Each batch is one ``expire_due`` in the storage and one write of all its events, so a
    sweep's cost grows with the number of batches rather than with the number of holds.
    """
    total = 0
    while True:
        with services.storage.unit_of_work() as uow:
            cancelled = uow.orders.expire_due(services.clock.now(), cmd.batch_size)
            record(uow, services, *(event for order in cancelled for event in events_of_cancelled(order)))
            uow.commit()
        metrics.holds_expired("sweep", services.clock.now(), [order.expires_at for order in cancelled])
        total += len(cancelled)
        if len(cancelled) < cmd.batch_size:
            return total
