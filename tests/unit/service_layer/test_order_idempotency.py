"""PlaceOrder with an Idempotency-Key: one order per buyer and key, refusals given again."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    Hive,
    IdempotencyKeyReused,
    OrderStatus,
    PlaceOrder,
    ReplayedRefusal,
    SoldOut,
    ValidationFailed,
)
from eventhive_core.adapters.memory import _Orders
from eventhive_core.testing.fakes import FrozenClock


def outbox_types(hive: Hive) -> list[str]:
    now = hive.clock.now()
    with hive.uow() as uow:
        return [r.message.type for r in uow.outbox.claim(now, now, 1000)]


@pytest.fixture
def hall(hive: Hive, seller: str) -> str:
    return hive.handle(CreateTicket(owner_id=seller, title="Hall", price="20", capacity=5)).id


def test_the_same_key_returns_the_first_order_marked_as_replayed_and_reserves_nothing_more(
    hive: Hive, ann: str, hall: str
) -> None:
    first = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, quantity=2, idempotency_key="k-1"))
    again = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, quantity=2, idempotency_key="k-1"))

    assert first.replayed is False
    assert again.replayed is True
    assert again.id == first.id
    assert again == replace(first, replayed=True)
    assert hive.queries.ticket(hall).held == 2
    assert outbox_types(hive) == ["ticket:created", "order:created"]
    assert len(hive.queries.orders_for_user(ann).items) == 1


def test_a_replay_shows_the_order_as_it_is_now_for_as_long_as_it_exists(
    hive: Hive, clock: FrozenClock, ann: str, hall: str
) -> None:
    first = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="k-1"))
    hive.handle(CancelOrder(order_id=first.id, actor_id=ann))
    clock.advance(hive.settings.idempotency_ttl + timedelta(days=1))

    again = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="k-1"))

    assert (again.id, again.status, again.replayed) == (first.id, OrderStatus.CANCELLED, True)
    assert hive.queries.ticket(hall).held == 0


@pytest.mark.parametrize("change", ["ticket", "quantity"])
def test_the_same_key_for_another_ticket_or_quantity_is_refused_as_reused(
    hive: Hive, seller: str, ann: str, hall: str, change: str
) -> None:
    other = hive.handle(CreateTicket(owner_id=seller, title="Other", price="5", capacity=5)).id
    hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="k-1"))
    reused = (
        PlaceOrder(buyer_id=ann, ticket_id=other, idempotency_key="k-1")
        if change == "ticket"
        else PlaceOrder(buyer_id=ann, ticket_id=hall, quantity=2, idempotency_key="k-1")
    )

    with pytest.raises(IdempotencyKeyReused):
        hive.handle(reused)

    assert len(hive.queries.orders_for_user(ann).items) == 1
    assert hive.queries.ticket(other).held == 0


def test_a_key_is_per_buyer(hive: Hive, ann: str, bob: str, hall: str) -> None:
    by_ann = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="same"))
    by_bob = hive.handle(PlaceOrder(buyer_id=bob, ticket_id=hall, idempotency_key="same"))

    assert by_ann.id != by_bob.id
    assert not by_bob.replayed
    assert hive.queries.ticket(hall).held == 2


def test_a_refusal_is_given_again_under_its_key_even_once_the_units_are_free(
    hive: Hive, ann: str, bob: str, gig: str
) -> None:
    held = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(SoldOut) as first:
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig, idempotency_key="k-1"))
    hive.handle(CancelOrder(order_id=held.id, actor_id=ann))

    with pytest.raises(ReplayedRefusal) as again:
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig, idempotency_key="k-1"))

    assert again.value.status_code == first.value.status_code == 400
    assert json.loads(again.value.body) == again.value.to_dict() == first.value.to_dict()
    assert again.value.message == "Ticket is already reserved"
    assert hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig, idempotency_key="k-2")).status is OrderStatus.CREATED


def test_a_refused_key_with_another_request_is_refused_as_reused(hive: Hive, ann: str, hall: str) -> None:
    with pytest.raises(ValidationFailed):
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, quantity=0, idempotency_key="k-1"))

    with pytest.raises(IdempotencyKeyReused):
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, quantity=1, idempotency_key="k-1"))

    assert hive.queries.ticket(hall).held == 0


def test_a_kept_refusal_is_forgotten_after_the_idempotency_ttl(
    hive: Hive, clock: FrozenClock, ann: str, bob: str, gig: str
) -> None:
    held = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=gig))
    with pytest.raises(SoldOut):
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig, idempotency_key="k-1"))
    hive.handle(CancelOrder(order_id=held.id, actor_id=ann))
    clock.advance(hive.settings.idempotency_ttl + timedelta(seconds=1))

    placed = hive.handle(PlaceOrder(buyer_id=bob, ticket_id=gig, idempotency_key="k-1"))

    assert (placed.status, placed.replayed) == (OrderStatus.CREATED, False)


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space", "line\n"])
def test_a_malformed_key_is_a_field_error_and_nothing_is_kept(hive: Hive, ann: str, hall: str, key: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key=key))

    assert [e.field for e in caught.value.errors] == ["Idempotency-Key"]
    assert hive.queries.ticket(hall).held == 0


def test_a_malformed_key_is_reported_with_every_other_field_error(hive: Hive, ann: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        hive.handle(PlaceOrder(buyer_id=ann, ticket_id="x", quantity=0, idempotency_key=""))

    assert [e.field for e in caught.value.errors] == ["Idempotency-Key", "ticketId", "quantity"]


def test_a_buyer_who_loses_the_race_for_a_key_gets_the_winners_order_on_the_retry(
    hive: Hive, ann: str, hall: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="k-1"))
    # As on a storage where a concurrent unit commits the order after this one looked for it:
    # the first lookup misses, the unique key refuses the second order, and the bus retries.
    lookup = _Orders.by_idempotency_key
    misses = [True]

    def late(self: _Orders, buyer_id: str, key: str) -> object:
        return None if misses and misses.pop() else lookup(self, buyer_id, key)

    monkeypatch.setattr(_Orders, "by_idempotency_key", late)

    again = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=hall, idempotency_key="k-1"))

    assert misses == []
    assert (again.id, again.replayed) == (first.id, True)
    assert hive.queries.ticket(hall).held == 1
    assert outbox_types(hive) == ["ticket:created", "order:created"]
