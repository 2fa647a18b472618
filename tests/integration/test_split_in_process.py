"""The five services of a split, each a Hive on its own database, joined by one shared stream in this process.

The process tests (tests/e2e/split) run the same services as processes over NATS; here every
delivery is under the test's hand, so orders of arrival, duplicates and races are chosen, not
hoped for. ``settle()`` relays every outbox and delivers until nothing moves, as the relays and
durable consumers do between processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    Hive,
    PayOrder,
    PlaceOrder,
    SignUp,
    SoldOut,
    UpdateTicket,
)
from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair
from eventhive_core.service_layer.roles import ROLES
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive
from eventhive_core.testing.streams import SharedStream

PRIVATE_KEY, PUBLIC_KEY = generate_ed25519_keypair()
TTL = 60


class Split:
    """Five services, one shared stream, one clock the test moves."""

    def __init__(self, database_url: Callable[[str], str], clock: FrozenClock, **settings: Any) -> None:
        self.clock = clock
        self.stream = SharedStream()
        self.hives: dict[str, Hive] = {}
        for role in ROLES:
            key = {"jwt_private_key": PRIVATE_KEY} if role == "auth" else {"jwt_public_key": PUBLIC_KEY}
            self.hives[role] = make_test_hive(
                clock,
                role=role,
                producer=role,
                storage="sqlalchemy",
                database_url=database_url(role),
                event_bus=self.stream.bus(),
                jwt_algorithm="EdDSA",
                reservation_ttl=TTL,
                **key,
                **settings,
            )

    def __getattr__(self, role: str) -> Hive:
        if role in ROLES:
            return self.hives[role]
        raise AttributeError(role)

    def settle(self, *, shuffle: bool = False, duplicate: float = 0.0) -> None:
        """Relay every outbox and deliver until nothing moves; fail if an event stays undeliverable."""
        for _ in range(50):
            relayed = sum(hive.relay_outbox() for hive in self.hives.values())
            delivered = self.stream.pump(shuffle=shuffle, duplicate=duplicate)
            if not relayed and not delivered:
                break
        assert self.stream.pending() == {}, f"undeliverable events: {self.stream.pending()}"

    def user(self, email: str) -> str:
        """Sign a user up on auth and return their id as every other service verifies it."""
        token = self.auth.handle(SignUp(email=email, password="password")).token.token
        return self.orders.authenticate(token).user_id

    def close(self) -> None:
        for hive in self.hives.values():
            hive.close()


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    made = Split(lambda role: f"sqlite:///{tmp_path / f'{role}.sqlite3'}", FrozenClock())
    yield made
    made.close()


def orders_of(hive: Hive) -> dict[str, tuple[str, int, int]]:
    with hive.uow() as uow:
        rows = uow.orders.due(hive.clock.now() + timedelta(days=3650), 10_000)  # every holding order
    holding = {o.id: (str(o.status), o.version, o.quantity) for o in rows}
    return holding


def test_a_ticket_sold_across_the_five_services_ends_complete_in_every_replica(split: Split) -> None:
    seller, buyer = split.user("seller@example.com"), split.user("buyer@example.com")
    ticket = split.tickets.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=2))
    split.settle()

    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    split.settle()
    assert split.tickets.queries.ticket(ticket.id).available == 1  # type: ignore[union-attr]

    payment = split.payments.handle(PayOrder(order_id=order.id, actor_id=buyer, token="tok_visa"))
    assert payment.status == "succeeded"
    split.settle()

    for role in ("orders", "tickets", "payments", "expiration"):
        with split.hives[role].uow() as uow:
            replica = uow.orders.get(order.id)
            assert replica is not None, role
            assert (str(replica.status), replica.version) == ("complete", 1), role
            units = uow.tickets.units(ticket.id, split.clock.now())
            assert (units.held, units.sold) == (0, 1), role
    assert split.tickets.queries.ticket(ticket.id).available == 1  # type: ignore[union-attr]


def test_a_hold_that_ran_out_is_expired_by_the_orders_service_when_the_expiration_service_asks(split: Split) -> None:
    seller, buyer = split.user("seller@example.com"), split.user("buyer@example.com")
    ticket = split.tickets.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
    split.settle()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
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
    assert split.tickets.queries.ticket(ticket.id).available == 1  # type: ignore[union-attr]


def test_money_taken_while_the_orders_service_cancelled_the_order_is_refunded_not_kept(split: Split) -> None:
    # The original's flaw 6: the charge raced the cancellation and completed a cancelled order.
    seller, buyer = split.user("seller@example.com"), split.user("buyer@example.com")
    ticket = split.tickets.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
    split.settle()
    order = split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
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
    seller, buyer = split.user("seller@example.com"), split.user("buyer@example.com")
    ticket = split.tickets.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=3))
    split.settle()
    held = [split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id)) for _ in range(2)]
    # The tickets service has not heard of the orders yet, so the edit is within what it knows.
    split.tickets.handle(UpdateTicket(ticket_id=ticket.id, actor_id=seller, capacity=1))
    split.settle()

    with split.orders.uow() as uow:
        units = uow.tickets.units(ticket.id, split.clock.now())
    assert (units.capacity, units.held) == (1, 2)
    with pytest.raises(SoldOut):
        split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    split.orders.handle(CancelOrder(order_id=held[0].id, actor_id=buyer))
    with pytest.raises(SoldOut):
        split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    split.orders.handle(CancelOrder(order_id=held[1].id, actor_id=buyer))
    split.orders.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    split.settle()
    assert split.tickets.queries.ticket(ticket.id).available == 0  # type: ignore[union-attr]
