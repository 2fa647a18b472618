"""Each of the original's flaws that lived in its event flow (reference §10), replayed on the split.

Every test sets up the situation the flaw needed and asserts what the original got wrong. The
services are five Hives on their own SQLite files joined by a stream the test delivers (see
``split_platform.py``); the process tests in tests/e2e/split drive the same flows over NATS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from eventhive_core import CancelOrder, PayOrder, PlaceOrder
from eventhive_core.contracts.codec import parse_message, to_domain_event
from eventhive_core.domain.events import ExpirationDue, OrderCancelled
from eventhive_core.ports.messages import Message
from eventhive_core.service_layer.expiry_requests import expire_when_due
from eventhive_core.testing.fakes import FrozenClock

from .split_platform import TTL, Split


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    made = Split(lambda role: f"sqlite:///{tmp_path / f'{role}.sqlite3'}", FrozenClock())
    yield made
    made.close()


def available(split: Split, ticket: str) -> int:
    view = split.tickets.queries.ticket(ticket)
    assert view is not None
    return view.available


def events(split: Split, event_type: str) -> list[Message]:
    return [m for m in split.stream.messages if m.type == event_type]


def test_flaw_3_a_cancellation_names_its_ticket_and_frees_it_in_the_tickets_service(split: Split) -> None:
    # The original sent the ticket id as a serialised buffer; the tickets service failed on it
    # forever and the ticket stayed reserved there while orders considered it free.
    _, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    assert available(split, ticket) == 0

    split.orders.handle(CancelOrder(order_id=order.id, actor_id=buyer))
    split.settle()  # fails if any event stays undeliverable

    [cancelled] = [to_domain_event(parse_message(m)) for m in events(split, "order:cancelled")]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.ticket_id == ticket
    assert available(split, ticket) == 1


def test_flaw_5_a_late_expiry_of_a_cancelled_order_neither_publishes_nor_frees_the_next_buyers_hold(
    split: Split,
) -> None:
    # The original cancelled an already cancelled order again on expiry, and the tickets
    # service then cleared the reservation of whichever order held the ticket by now.
    _, buyer, ticket = split.listed()
    first = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.orders.handle(CancelOrder(order_id=first.id, actor_id=buyer))
    split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    assert available(split, ticket) == 0

    split.clock.advance(timedelta(seconds=TTL + 3))
    with split.orders.uow() as uow:
        expire_when_due(ExpirationDue(order_id=first.id, due_at=first.expires_at), uow, split.orders.services)
        uow.commit()
    split.settle()

    assert len(events(split, "order:cancelled")) == 1
    with split.tickets.uow() as uow:
        assert uow.tickets.units(ticket, first.created_at).held == 1  # the second order still holds it


def test_flaw_6_money_taken_after_the_hold_ran_out_is_refunded_and_the_order_stays_cancelled(split: Split) -> None:
    # The original's payments service checked only its replica, and the orders service then
    # completed a cancelled order whose ticket might be resold already.
    _, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    split.clock.advance(timedelta(seconds=TTL - 1))
    split.orders.handle(CancelOrder(order_id=order.id, actor_id=buyer))  # the expiry's effect, not yet relayed
    resold = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))

    payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    split.settle()

    with split.orders.uow() as uow:
        source = uow.orders.get(order.id)
        other = uow.orders.get(resold.id)
    assert source is not None
    assert other is not None
    assert (str(source.status), str(other.status)) == ("cancelled", "created")
    with split.payments.uow() as uow:
        refunded = uow.payments.get(payment.id)
    assert refunded is not None
    assert str(refunded.status) == "refunded"
    assert len(events(split, "payment:refunded")) == 1


def test_flaw_10_completing_an_order_publishes_its_version_so_every_replica_keeps_up(split: Split) -> None:
    # The original completed orders without publishing: the payments service's replica fell a
    # version behind and could never apply a later event for the order.
    _, buyer, ticket = split.listed(capacity=2)
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    split.settle()

    versions = {}
    for role in ("orders", "tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
        assert replica is not None
        versions[role] = (str(replica.status), replica.version)
    assert set(versions.values()) == {("complete", 1)}
    assert len(events(split, "order:completed")) == 1


def test_flaw_12_an_event_the_bus_refused_is_published_later_not_lost(split: Split) -> None:
    # The original published after saving, without waiting for the broker: a failed publish was lost.
    _, buyer, ticket = split.listed()
    orders_bus = split.orders.bus
    orders_bus.fail_next(1)  # type: ignore[attr-defined]
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    assert split.orders.relay_outbox() == 0  # refused by the stream: kept in the outbox

    split.clock.advance(timedelta(seconds=10))  # past the relay's back-off
    split.settle()
    with split.payments.uow() as uow:
        assert uow.orders.get(order.id) is not None
    assert available(split, ticket) == 0


def test_flaw_13_duplicates_and_events_ahead_of_their_predecessor_end_applied_not_redelivered_forever(
    split: Split,
) -> None:
    # The original's orders service failed forever on a duplicate ticket:created, and on any
    # event naming a record it did not have yet.
    _, buyer, ticket = split.listed()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.orders.handle(CancelOrder(order_id=order.id, actor_id=buyer))
    split.relay_only()
    created, cancelled = events(split, "order:created")[-1], events(split, "order:cancelled")[-1]
    # The cancellation first, then everything twice more (the ticket's events included).
    split.stream.messages[:] = [cancelled, *split.stream.messages, *split.stream.messages, created]
    split.settle(shuffle=True)

    for role in ("tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
        assert replica is not None
        assert (str(replica.status), replica.version) == ("cancelled", 1), role
    assert available(split, ticket) == 1


def test_flaw_14_a_second_order_for_a_ticket_is_counted_beside_the_first_never_over_it(split: Split) -> None:
    # The original's tickets service overwrote the ticket's orderId on every order:created.
    _, buyer, ticket = split.listed(capacity=2)
    first = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle(duplicate=1.0)
    assert available(split, ticket) == 0

    split.orders.handle(CancelOrder(order_id=first.id, actor_id=buyer))
    split.settle(duplicate=1.0)
    assert available(split, ticket) == 1  # the second order still holds its unit


def test_flaw_20_a_paid_or_cancelled_order_is_never_asked_to_expire(split: Split) -> None:
    # The original never removed an expiry job when its order was paid or cancelled.
    _, buyer, ticket = split.listed(capacity=2)
    paid = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    cancelled = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    split.settle()
    split.payments.handle(PayOrder(order_id=paid.id, actor_id=buyer, token="tok_visa"))
    split.orders.handle(CancelOrder(order_id=cancelled.id, actor_id=buyer))
    split.settle()

    split.clock.advance(timedelta(seconds=TTL * 2))
    assert split.expiration.sweep() == 0
    split.settle()
    assert events(split, "expiration:due") == []
