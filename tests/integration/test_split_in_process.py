"""The five services of a split, each a Hive on its own database, joined by one shared stream in this process.

The process tests (tests/e2e/split) run the same services as processes over NATS; here every
delivery is under the test's hand, so orders of arrival, duplicates and races are chosen, not
hoped for. ``settle()`` relays every outbox and delivers until nothing moves, as the relays and
durable consumers do between processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    NotThisService,
    OrderAlreadyPaid,
    PayOrder,
    PlaceOrder,
    RefundOrder,
    SoldOut,
    UpdateTicket,
)
from eventhive_core.contracts.codec import parse_message, to_domain_event
from eventhive_core.domain.events import ExpirationDue, OrderPaymentRefused, PaymentCreated
from eventhive_core.domain.ids import new_id
from eventhive_core.service_layer.expiry_requests import expire_when_due
from eventhive_core.service_layer.payment_decisions import settle_payment
from eventhive_core.testing.fakes import FrozenClock

from .split_platform import TTL, Split


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    made = Split(lambda role: f"sqlite:///{tmp_path / f'{role}.sqlite3'}", FrozenClock())
    yield made
    made.close()


def test_a_ticket_sold_across_the_five_services_ends_complete_in_every_replica(split: Split) -> None:
    _seller, buyer, ticket = split.listed(capacity=2)

    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    assert split.tickets.queries.ticket(ticket).available == 1  # type: ignore[union-attr]

    payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    assert payment.status == "succeeded"
    split.settle()

    for role in ("orders", "tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
            assert replica is not None, role
            assert (str(replica.status), replica.version) == ("complete", 1), role
            units = uow.tickets.units(ticket, split.clock.now())
            assert (units.held, units.sold) == (0, 1), role
    assert split.tickets.queries.ticket(ticket).available == 1  # type: ignore[union-attr]


def test_a_hold_that_ran_out_is_expired_by_the_orders_service_when_the_expiration_service_asks(split: Split) -> None:
    _seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()

    split.clock.advance(timedelta(seconds=TTL))
    assert split.expiration.sweep() == 0  # the hold is over, its grace is not
    split.clock.advance(timedelta(seconds=3))
    assert split.expiration.sweep() == 1
    assert split.expiration.sweep() == 0  # asked already: not again before an answer is due
    split.settle()

    for role in ("orders", "tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
            assert replica is not None
            assert (str(replica.status), replica.cancel_reason) == ("cancelled", "expired"), role
    assert split.expiration.sweep() == 0  # the replica shows it cancelled: nothing more to ask
    assert split.tickets.queries.ticket(ticket).available == 1  # type: ignore[union-attr]


def test_money_taken_while_the_orders_service_cancelled_the_order_is_refunded_not_kept(split: Split) -> None:
    # The original's flaw 6: the charge raced the cancellation and completed a cancelled order.
    _seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()

    split.orders.handle(CancelOrder(order_id=order.id, actor_id=buyer))  # not yet known to payments
    payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    assert payment.status == "succeeded"
    split.settle()

    with split.payments.uow() as uow:
        stored = uow.payments.get(payment.id)
        replica = uow.orders.get(order.id)
    assert stored is not None
    assert str(stored.status) == "refunded"
    assert replica is not None
    assert str(replica.status) == "cancelled"
    with split.orders.uow() as uow:
        source = uow.orders.get(order.id)
    assert source is not None
    assert str(source.status) == "cancelled"
    refunded = [m for m in split.stream.messages if m.type == "payment:refunded"]
    assert len(refunded) == 1


def test_a_capacity_lowered_below_the_holds_the_orders_service_knows_keeps_them_and_refuses_new_ones(
    split: Split,
) -> None:
    seller, buyer, ticket = split.listed(capacity=3)
    held = [split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket)) for _ in range(2)]
    # The tickets service has not heard of the orders yet, so the edit is within what it knows.
    split.tickets.handle(UpdateTicket(ticket_id=ticket, actor_id=seller, capacity=1))
    split.settle()

    with split.orders.uow() as uow:
        units = uow.tickets.units(ticket, split.clock.now())
    assert (units.capacity, units.held) == (1, 2)
    with pytest.raises(SoldOut):
        split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.orders.handle(CancelOrder(order_id=held[0].id, actor_id=buyer))
    with pytest.raises(SoldOut):
        split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.orders.handle(CancelOrder(order_id=held[1].id, actor_id=buyer))
    split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    assert split.tickets.queries.ticket(ticket).available == 0  # type: ignore[union-attr]


def test_a_second_payment_before_the_first_completed_the_order_everywhere_is_refused_without_a_charge(
    split: Split,
) -> None:
    _seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))

    with pytest.raises(OrderAlreadyPaid):  # the replica still shows the order created
        split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_mastercard"))
    split.settle()
    with split.payments.uow() as uow:
        assert [str(p.status) for p in uow.payments.for_order(order.id)] == ["succeeded"]


def test_the_orders_service_refuses_money_for_an_order_another_payment_completed(split: Split) -> None:
    # The payments service keeps one succeeded payment per order, so this is the orders
    # service's own guard: fed a second payment for a complete order, it answers with a refusal.
    _seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    first = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    split.settle()

    second = PaymentCreated(
        id=new_id(), order_id=order.id, provider="fake", provider_ref="ch_2", amount_minor=1000, currency="USD"
    )
    with split.orders.uow() as uow:
        settle_payment(second, uow, split.orders.services)
        uow.commit()
    split.settle()

    refused = [to_domain_event(parse_message(m)) for m in split.stream.messages if m.type == "order:payment_refused"]
    assert refused == [OrderPaymentRefused(order_id=order.id, payment_id=second.id, reason="already_paid")]
    with split.orders.uow() as uow:
        kept = uow.orders.get(order.id)
    assert kept is not None
    assert (str(kept.status), kept.version) == ("complete", 1)
    with split.payments.uow() as uow:
        assert [(p.id, str(p.status)) for p in uow.payments.for_order(order.id)] == [(first.id, "succeeded")]


def test_with_accept_if_available_money_for_a_lapsed_hold_completes_a_replacement_the_payment_follows(
    tmp_path: Path,
) -> None:
    def database(role: str) -> str:
        return f"sqlite:///{tmp_path / f'{role}.sqlite3'}"

    split = Split(database, FrozenClock(), late_payment_policy="accept_if_available")
    try:
        _seller, buyer, ticket = split.listed()
        order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
        split.settle()
        split.orders.handle(CancelOrder(order_id=order.id, actor_id=buyer))  # payments has not heard yet
        payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
        split.settle()

        with split.payments.uow() as uow:
            moved = uow.payments.get(payment.id)
        assert moved is not None
        assert str(moved.status) == "succeeded"
        assert moved.order_id != order.id
        for role in ("orders", "tickets", "payments", "expiration"):
            with split.hives[role].uow() as uow:
                replacement = uow.orders.get(moved.order_id)
                cancelled = uow.orders.get(order.id)
            assert replacement is not None
            assert cancelled is not None
            assert (str(replacement.status), replacement.version) == ("complete", 1), role
            assert str(cancelled.status) == "cancelled", role
        assert split.tickets.queries.ticket(ticket).sold == 1  # type: ignore[union-attr]
    finally:
        split.close()


def test_an_expiry_asked_for_early_by_a_clock_ahead_changes_nothing_and_is_asked_for_again_until_answered(
    split: Split,
) -> None:
    # The original's flaw 20: the expiration service judged the hold by its own clock.
    _seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()

    early = ExpirationDue(order_id=order.id, due_at=order.expires_at)
    with split.orders.uow() as uow:
        expire_when_due(early, uow, split.orders.services)  # the orders service's clock: not due yet
        uow.commit()
    with split.orders.uow() as uow:
        still = uow.orders.get(order.id)
    assert still is not None
    assert str(still.status) == "created"

    split.clock.advance(timedelta(seconds=TTL + 3))
    assert split.expiration.sweep() == 1
    split.relay_only()  # asked, but the answer is lost on the way: nothing is delivered
    split.stream.messages.clear()
    split.clock.advance(timedelta(seconds=2))
    assert split.expiration.sweep() == 0  # not again so soon
    split.clock.advance(split.expiration.settings.sweep_interval)
    assert split.expiration.sweep() == 1  # unanswered for a sweep interval: asked again
    split.settle()
    with split.orders.uow() as uow:
        expired = uow.orders.get(order.id)
    assert expired is not None
    assert (str(expired.status), expired.cancel_reason) == ("cancelled", "expired")
    assert split.expiration.sweep() == 0


def test_a_sellers_refund_at_the_orders_service_gives_the_money_back_at_the_payments_service_once(
    split: Split,
) -> None:
    seller, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    split.settle()

    refunded = split.orders.handle(RefundOrder(order_id=order.id, actor_id=seller))
    assert (str(refunded.status), refunded.cancel_reason) == ("cancelled", "refunded")
    split.settle(duplicate=1.0)

    with split.payments.uow() as uow:
        stored = uow.payments.get(payment.id)
    assert stored is not None
    assert str(stored.status) == "refunded"
    assert len([m for m in split.stream.messages if m.type == "payment:refunded"]) == 1
    for role in ("tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
        assert replica is not None
        assert (str(replica.status), replica.version) == ("cancelled", 2), role
    assert split.tickets.queries.ticket(ticket).available == 1  # type: ignore[union-attr]


def test_a_service_refuses_a_command_another_service_carries_out(split: Split) -> None:
    seller = split.user("seller@example.com")
    with pytest.raises(NotThisService, match="The orders service does not carry out CreateTicket: the tickets"):
        split.orders.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
    with pytest.raises(NotThisService, match="The tickets service does not carry out PlaceOrder"):
        split.tickets.handle(PlaceOrder(buyer_id=seller, ticket_id=new_id()))
    assert split.tickets.sweep() == 0  # orders are a replica there: nothing of its own to sweep
