"""Orders placed with an Idempotency-Key on each database: duplicates at once, refusals kept.

The interesting race is for the last unit of a ticket: a duplicate that raced the first for the
units would be told "sold out" while its own key holds the order. The key's claim makes it wait
for the first instead, and then find that order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    EventHiveError,
    Hive,
    IdempotencyKeyReused,
    OrderView,
    PlaceOrder,
    ReplayedRefusal,
    SignUp,
    SoldOut,
)
from eventhive_core.clock import SystemClock
from eventhive_core.testing.hives import make_test_hive

DUPLICATES = 8
ROUNDS = 4


@pytest.fixture
def hive(database_url: str) -> Iterator[Hive]:
    with make_test_hive(SystemClock(), storage="sqlalchemy", database_url=database_url) as built:
        yield built


def send_at_once(hive: Hive, command: PlaceOrder, count: int) -> list[OrderView | EventHiveError]:
    """Run ``count`` copies of the command in threads released together; return answers or refusals."""
    start = threading.Barrier(count)

    def send(_: int) -> OrderView | EventHiveError:
        start.wait(10)
        try:
            return hive.handle(command)
        except EventHiveError as refusal:
            return refusal

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


@pytest.mark.parametrize("capacity", [1, 5])
def test_duplicates_of_a_keyed_order_sent_at_once_place_one_order_and_all_get_it(hive: Hive, capacity: int) -> None:
    seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
    buyer = hive.handle(SignUp(email="buyer@example.com", password="password")).user.id
    for round_no in range(ROUNDS):
        ticket = hive.handle(CreateTicket(owner_id=seller, title=f"Race {round_no}", price="20", capacity=capacity))
        keyed = PlaceOrder(buyer_id=buyer, ticket_id=ticket.id, idempotency_key=f"key-{round_no}")

        answers = send_at_once(hive, keyed, DUPLICATES)

        views = [answer for answer in answers if isinstance(answer, OrderView)]
        assert len(views) == DUPLICATES, f"round {round_no}: {answers}"
        assert len({view.id for view in views}) == 1
        assert sorted(view.replayed for view in views) == [False] + [True] * (DUPLICATES - 1)
        assert hive.queries.ticket(ticket.id).held == 1
    assert len(hive.queries.orders_for_user(buyer).items) == ROUNDS


def test_a_refusal_under_a_key_is_kept_and_given_again(hive: Hive) -> None:
    seller, ann, bob = (
        hive.handle(SignUp(email=f"{name}@example.com", password="password")).user.id for name in ("s", "ann", "bob")
    )
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20")).id
    held = hive.handle(PlaceOrder(buyer_id=ann, ticket_id=ticket))
    keyed = PlaceOrder(buyer_id=bob, ticket_id=ticket, idempotency_key="k")
    with pytest.raises(SoldOut) as first:
        hive.handle(keyed)
    hive.handle(CancelOrder(order_id=held.id, actor_id=ann))

    with pytest.raises(ReplayedRefusal) as again:
        hive.handle(keyed)
    with pytest.raises(IdempotencyKeyReused):
        hive.handle(PlaceOrder(buyer_id=bob, ticket_id=ticket, quantity=2, idempotency_key="k"))

    assert (again.value.status_code, again.value.to_dict()) == (400, first.value.to_dict())
    assert hive.handle(PlaceOrder(buyer_id=bob, ticket_id=ticket, idempotency_key="k2")).replayed is False
