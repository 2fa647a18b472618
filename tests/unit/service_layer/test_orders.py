from __future__ import annotations

import pytest

from eventhive_core import (
    CancelOrder,
    CannotCancelCompleteOrder,
    CannotOrderOwnTicket,
    CreateTicket,
    ExpireResult,
    Hive,
    NotAuthorized,
    NotFound,
    OrderStatus,
    PayOrder,
    PlaceOrder,
    SoldOut,
    ValidationFailed,
)
from eventhive_core.testing.fakes import FrozenClock


def outbox_types(hive: Hive) -> list[str]:
    now = hive.clock.now()
    with hive.uow() as uow:
        return [r.message.type for r in uow.outbox.claim(now, now, 1000)]


def test_placing_an_order_holds_the_ticket_for_sixty_seconds(
    hive: Hive, clock: FrozenClock, ann: str, gig: str
) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    assert order.status is OrderStatus.CREATED
    assert (order.expires_at - clock.now()).total_seconds() == 60
    assert order.amount.minor == 2000
    assert hive.queries.ticket(gig).available == 0
    assert hive.queries.available_tickets().items == ()


def test_a_second_buyer_gets_the_originals_reserved_message(hive: Hive, ann: str, bob: str, gig: str) -> None:
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(SoldOut) as caught:
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig))
    assert caught.value.message == "Ticket is already reserved"


def test_a_hold_past_its_expiry_does_not_block_the_next_buyer(
    hive: Hive, clock: FrozenClock, ann: str, bob: str, gig: str
) -> None:
    first = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    clock.advance(seconds=61)
    assert hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig)).status is OrderStatus.CREATED
    assert hive.queries.order(first.id).status in (OrderStatus.CREATED, OrderStatus.CANCELLED)


def test_units_of_a_larger_ticket_are_sold_until_capacity(hive: Hive, seller: str, ann: str, bob: str) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Hall", price=5, capacity=3)).id
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket, quantity=2))
    with pytest.raises(SoldOut):
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=ticket, quantity=2))
    order = hive.handle(PlaceOrder(buyer_id=bob, ticket_id=ticket, quantity=1))
    assert order.amount.minor == 500
    assert hive.queries.ticket(ticket).available == 0


def test_a_seller_cannot_buy_their_own_ticket(hive: Hive, seller: str, gig: str) -> None:
    with pytest.raises(CannotOrderOwnTicket):
        hive.handle(PlaceOrder(buyer_id=seller, ticket_id=gig))


@pytest.mark.parametrize(
    ("ticket_id", "quantity", "fields"), [("123", 1, ["ticketId"]), ("", 0, ["ticketId", "quantity"])]
)
def test_malformed_orders_are_field_errors(
    hive: Hive, ann: str, ticket_id: str, quantity: int, fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket_id, quantity=quantity))
    assert [e.field for e in caught.value.errors] == fields


def test_quantities_over_the_limit_are_refused(hive: Hive, ann: str, gig: str) -> None:
    with pytest.raises(ValidationFailed):
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig, quantity=hive.settings.max_units_per_order + 1))


def test_ordering_an_unknown_ticket_is_not_found(hive: Hive, ann: str) -> None:
    with pytest.raises(NotFound):
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"))


def test_cancelling_frees_the_ticket_and_publishes_order_cancelled(hive: Hive, ann: str, bob: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    cancelled = hive.handle(CancelOrder(order_id=order.id, actor_id=ann))
    assert (cancelled.status, cancelled.cancel_reason, cancelled.version) == (OrderStatus.CANCELLED, "buyer", 1)
    assert hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig)).status is OrderStatus.CREATED
    assert outbox_types(hive)[-3:] == ["order:created", "order:cancelled", "order:created"]


def test_cancelling_a_cancelled_order_changes_nothing_and_publishes_nothing(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    hive.handle(CancelOrder(order_id=order.id, actor_id=ann))
    before = outbox_types(hive)
    again = hive.handle(CancelOrder(order_id=order.id, actor_id=ann))
    assert again.version == 1
    assert outbox_types(hive) == before


def test_a_complete_order_cannot_be_cancelled(hive: Hive, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    with pytest.raises(CannotCancelCompleteOrder) as caught:
        hive.handle(CancelOrder(order_id=order.id, actor_id=ann))
    assert caught.value.message == "Cannot cancel a complete order"


def test_only_the_buyer_may_cancel_or_see_an_order(hive: Hive, ann: str, bob: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(NotAuthorized):
        hive.handle(CancelOrder(order_id=order.id, actor_id=bob))
    with pytest.raises(NotAuthorized):
        hive.queries.order(order.id, viewer_id=bob)
    assert hive.queries.order(order.id, viewer_id=ann).id == order.id


@pytest.mark.parametrize("order_id", ["123", "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"])
def test_unknown_or_malformed_order_ids_are_not_found(hive: Hive, ann: str, order_id: str) -> None:
    with pytest.raises(NotFound):
        hive.queries.order(order_id, viewer_id=ann)
    with pytest.raises(NotFound):
        hive.handle(CancelOrder(order_id=order_id, actor_id=ann))


def test_expiry_cancels_a_due_order_once(hive: Hive, clock: FrozenClock, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    assert hive.expire(order.id) is ExpireResult.NOT_DUE
    clock.advance(seconds=60)
    assert hive.expire(order.id) is ExpireResult.EXPIRED
    assert hive.expire(order.id) is ExpireResult.ALREADY_FINAL
    view = hive.queries.order(order.id)
    assert (view.status, view.cancel_reason) == (OrderStatus.CANCELLED, "expired")
    assert outbox_types(hive).count("expiration:complete") == 1
    assert outbox_types(hive).count("order:cancelled") == 1


def test_expiry_never_cancels_a_complete_order(hive: Hive, clock: FrozenClock, ann: str, gig: str) -> None:
    order = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    hive.handle(PayOrder(order_id=order.id, actor_id=ann, token="tok_visa"))
    clock.advance(seconds=3600)
    assert hive.expire(order.id) is ExpireResult.ALREADY_FINAL
    assert hive.sweep() == 0
    assert hive.queries.order(order.id).status is OrderStatus.COMPLETE


def test_expiring_an_unknown_order_reports_not_found(hive: Hive) -> None:
    assert hive.expire("nope") is ExpireResult.NOT_FOUND


def test_the_sweeper_expires_every_due_hold_in_batches(hive: Hive, clock: FrozenClock, seller: str, ann: str) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Hall", price=5, capacity=30)).id
    for _ in range(7):
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket))
    clock.advance(seconds=61)
    assert hive.sweep(batch_size=3) == 7
    assert hive.sweep() == 0
    assert hive.queries.ticket(ticket).available == 30
