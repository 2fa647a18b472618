"""Port contract suites: the behaviour every storage must show, as pytest classes to subclass.

A storage plugin proves itself by subclassing :class:`StorageContract` in its tests and providing
a ``storage`` fixture that returns a fresh, empty storage (and, optionally, a ``clock``)::

    from eventhive_core.testing.contract_suites import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self):
            store = MyStorage(...)
            yield store
            store.close()

The suites use the ports exactly as the service layer does: units are taken with
``tickets.reserve`` and then recorded with ``orders.add`` in the same unit of work; when
``reserve`` refuses, due holds are expired with guarded ``orders.save`` and it is tried once more.
The pure functions of :mod:`eventhive_core.domain.reservation` are the specification they check
against. Each suite class can also be used alone.
"""

# The test methods are named as sentences; those names are their documentation.
# ruff: noqa: D102

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from eventhive_core.domain.errors import ConcurrencyConflict, EmailInUse
from eventhive_core.domain.ids import OrderId, PaymentId, TicketId, UserId, new_id
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import CancelReason, Order, OrderStatus
from eventhive_core.domain.payment import Payment, PaymentStatus
from eventhive_core.domain.reservation import Units
from eventhive_core.domain.ticket import Ticket
from eventhive_core.domain.user import User
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import BatchProcessedMessages, Storage
from eventhive_core.testing.fakes import FrozenClock

#: The hold length the suites use.
TTL = timedelta(seconds=60)


def a_user(clock: FrozenClock, email: str | None = None) -> User:
    """Return a new user (not stored)."""
    return User(UserId(new_id()), email or f"{new_id()}@example.com", "scrypt$hash", clock.now())


def a_ticket(clock: FrozenClock, owner: str, *, capacity: int = 1, price: int = 1000, title: str = "Gig") -> Ticket:
    """Return a new ticket (not stored)."""
    return Ticket(TicketId(new_id()), title, Money(price), UserId(owner), clock.now(), capacity=capacity)


def store(storage: Storage, *things: User | Ticket) -> None:
    """Add users and tickets in one committed unit."""
    with storage.unit_of_work() as uow:
        for thing in things:
            if isinstance(thing, User):
                uow.users.add(thing)
            else:
                uow.tickets.add(thing)
        uow.commit()


def place(
    storage: Storage,
    ticket: Ticket,
    buyer: str,
    now: datetime,
    *,
    quantity: int = 1,
    ttl: timedelta = TTL,
    key: str | None = None,
) -> Order | None:
    """Reserve and record an order the way the service layer does; None when the units do not fit.

    ``key`` is the buyer's Idempotency-Key to record on the order.

    When the reservation is refused, the ticket's due holds are expired (guarded writes) in the
    same unit and the reservation is tried once more.
    """
    with storage.unit_of_work() as uow:
        if not uow.tickets.reserve(ticket.id, quantity, now):
            due = uow.orders.due(now, 100, ticket_id=ticket.id)
            for order in due:
                uow.orders.save(order, order.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED))
            if not due or not uow.tickets.reserve(ticket.id, quantity, now):
                uow.commit()  # the reclaim itself is worth keeping
                return None
        order = Order(
            id=OrderId(new_id()),
            ticket_id=ticket.id,
            buyer_id=UserId(buyer),
            status=OrderStatus.CREATED,
            expires_at=now + ttl,
            created_at=now,
            amount=ticket.price * quantity,
            quantity=quantity,
            idempotency_key=key,
        )
        uow.orders.add(order)
        uow.commit()
    return order


def move(storage: Storage, order: Order, target: OrderStatus, reason: CancelReason | None = None) -> Order:
    """Move a stored order to ``target`` in its own committed unit; return the new order."""
    after = order.moved_to(target, reason=reason)
    with storage.unit_of_work() as uow:
        uow.orders.save(order, after)
        uow.commit()
    return after


def units(storage: Storage, ticket: Ticket, now: datetime) -> Units:
    """Return the ticket's units as of ``now``."""
    with storage.unit_of_work() as uow:
        return uow.tickets.units(ticket.id, now)


class _Fixtures:
    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh, empty storage: subclasses must provide it."""
        pytest.fail("Subclass the contract suite and define a `storage` fixture returning a fresh, empty Storage")

    @pytest.fixture
    def clock(self) -> FrozenClock:
        """The suites' clock; override to start elsewhere."""
        return FrozenClock()

    @pytest.fixture
    def seller(self, storage: Storage, clock: FrozenClock) -> User:
        user = a_user(clock, "seller@example.com")
        store(storage, user)
        return user

    @pytest.fixture
    def buyer(self, storage: Storage, clock: FrozenClock) -> User:
        user = a_user(clock, "buyer@example.com")
        store(storage, user)
        return user


class RepositoryContract(_Fixtures):
    """Round trips, unique emails, version guards and transaction boundaries."""

    def test_a_user_round_trips_by_id_and_by_email(self, storage: Storage, clock: FrozenClock) -> None:
        user = a_user(clock, "ann@example.com")
        store(storage, user)
        with storage.unit_of_work() as uow:
            assert uow.users.get(user.id) == user
            assert uow.users.get_by_email("ann@example.com") == user
            assert uow.users.get(new_id()) is None
            assert uow.users.get_by_email("nobody@example.com") is None

    def test_a_second_user_with_the_same_email_is_refused(self, storage: Storage, clock: FrozenClock) -> None:
        store(storage, a_user(clock, "ann@example.com"))
        with storage.unit_of_work() as uow, pytest.raises(EmailInUse):
            uow.users.add(a_user(clock, "ann@example.com"))

    def test_saving_a_user_keeps_the_ban(self, storage: Storage, clock: FrozenClock) -> None:
        user = a_user(clock)
        store(storage, user)
        banned = User(user.id, user.email, user.password_hash, user.created_at, banned_at=clock.now())
        with storage.unit_of_work() as uow:
            uow.users.save(banned)
            uow.commit()
        with storage.unit_of_work() as uow:
            found = uow.users.get(user.id)
        assert found is not None
        assert found.is_banned
        assert found.banned_at == clock.now()

    def test_a_ticket_round_trips_with_its_price_and_capacity(
        self, storage: Storage, clock: FrozenClock, seller: User
    ) -> None:
        ticket = Ticket(TicketId(new_id()), "Opera", Money(1234, "EUR"), seller.id, clock.now(), capacity=7)
        store(storage, ticket)
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) == ticket
            assert uow.tickets.get(new_id()) is None

    def test_saving_a_ticket_at_its_version_stores_the_edit(
        self, storage: Storage, clock: FrozenClock, seller: User
    ) -> None:
        ticket = a_ticket(clock, seller.id)
        store(storage, ticket)
        edited = ticket.edited(title="New title", price=Money(2000), capacity=3)
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) == ticket
            uow.tickets.save(ticket, edited)
            assert uow.tickets.get(ticket.id) == edited  # the unit reads its own write
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) == edited

    def test_saving_a_ticket_from_a_stale_version_is_a_conflict(
        self, storage: Storage, clock: FrozenClock, seller: User
    ) -> None:
        ticket = a_ticket(clock, seller.id)
        store(storage, ticket)
        first = ticket.edited(title="First")
        with storage.unit_of_work() as uow:
            uow.tickets.save(ticket, first)
            uow.commit()
        with storage.unit_of_work() as uow, pytest.raises(ConcurrencyConflict):
            uow.tickets.save(ticket, ticket.edited(title="Second"))
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) == first

    def test_an_order_round_trips(self, storage: Storage, clock: FrozenClock, seller: User, buyer: User) -> None:
        ticket = a_ticket(clock, seller.id, capacity=5)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=3)
        assert order is not None
        with storage.unit_of_work() as uow:
            assert uow.orders.get(order.id) == order
            assert uow.orders.get(new_id()) is None
        assert order.amount == Money(3000)

    def test_an_order_keeps_its_idempotency_key_through_transitions_and_is_found_by_it(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=3)
        store(storage, ticket)
        keyed = place(storage, ticket, buyer.id, clock.now(), key="order-1")
        unkeyed = place(storage, ticket, buyer.id, clock.now())
        assert keyed is not None
        assert unkeyed is not None
        with storage.unit_of_work() as uow:
            assert uow.orders.get(keyed.id) == keyed
            assert uow.orders.by_idempotency_key(buyer.id, "order-1") == keyed
            assert uow.orders.by_idempotency_key(seller.id, "order-1") is None  # keys are per buyer
            assert uow.orders.by_idempotency_key(buyer.id, "order-2") is None
        assert keyed.idempotency_key == "order-1"
        assert unkeyed.idempotency_key is None
        cancelled = move(storage, keyed, OrderStatus.CANCELLED, CancelReason.BUYER)
        with storage.unit_of_work() as uow:
            assert uow.orders.by_idempotency_key(buyer.id, "order-1") == cancelled
            assert uow.orders.expire_due(clock.now() + TTL, 10) == [
                unkeyed.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED)
            ]

    def test_a_second_order_of_one_buyer_with_one_key_is_a_conflict_and_takes_nothing(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=5)
        other_buyer = a_user(clock, "other@example.com")
        store(storage, ticket, other_buyer)
        first = place(storage, ticket, buyer.id, clock.now(), key="k")

        # Raised by add() or, where inserts ride along with the commit, by commit(): either way the unit is lost.
        with pytest.raises(ConcurrencyConflict):
            place(storage, ticket, buyer.id, clock.now(), key="k")

        assert units(storage, ticket, clock.now()).held == 1
        with storage.unit_of_work() as uow:
            assert uow.orders.by_idempotency_key(buyer.id, "k") == first
        assert place(storage, ticket, other_buyer.id, clock.now(), key="k") is not None
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        assert place(storage, ticket, buyer.id, clock.now()) is not None  # orders without a key never clash
        assert units(storage, ticket, clock.now()).held == 4

    def test_payments_round_trip_oldest_first_and_only_one_may_succeed(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now())
        assert order is not None

        def payment(status: PaymentStatus) -> Payment:
            clock.advance(seconds=1)
            return Payment(PaymentId(new_id()), order.id, "fake", order.amount, status, f"k-{new_id()}", clock.now())

        failed, succeeded = payment(PaymentStatus.FAILED), payment(PaymentStatus.PENDING)
        with storage.unit_of_work() as uow:
            uow.payments.add(failed)
            uow.payments.add(succeeded)
            uow.commit()
        settled = succeeded.settled(PaymentStatus.SUCCEEDED, "ref_1")
        with storage.unit_of_work() as uow:
            uow.payments.save(succeeded, settled)
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.payments.for_order(order.id) == [failed, settled]
            assert uow.payments.get(settled.id) == settled
        with storage.unit_of_work() as uow, pytest.raises(ConcurrencyConflict):
            uow.payments.add(payment(PaymentStatus.SUCCEEDED))
        with storage.unit_of_work() as uow, pytest.raises(ConcurrencyConflict):
            uow.payments.save(failed, failed.settled(PaymentStatus.SUCCEEDED, "ref_2"))

    def test_a_payment_keeps_its_lease_digest_and_version_and_stale_saves_conflict(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now())
        assert order is not None
        attempt = Payment(
            PaymentId(new_id()),
            order.id,
            "stripe",
            order.amount,
            PaymentStatus.PENDING,
            "order:x:pay:1",
            clock.now(),
            method_digest="ab" * 32,
            charging_until=clock.now() + timedelta(minutes=2),
        )
        with storage.unit_of_work() as uow:
            uow.payments.add(attempt)
            uow.commit()
        waiting = attempt.released("pi_123")
        with storage.unit_of_work() as uow:
            assert uow.payments.get(attempt.id) == attempt
            uow.payments.save(attempt, waiting)
            uow.commit()
        with storage.unit_of_work() as uow, pytest.raises(ConcurrencyConflict):
            # A second writer still holding the first version loses: nothing is overwritten.
            uow.payments.save(attempt, attempt.settled(PaymentStatus.FAILED))
        with storage.unit_of_work() as uow:
            stored = uow.payments.get(attempt.id)
            assert stored == waiting
            assert stored is not None
            assert (stored.version, stored.charging_until, stored.provider_ref) == (1, None, "pi_123")
            assert uow.payments.by_provider_ref("stripe", "pi_123") == waiting
            assert uow.payments.by_provider_ref("fake", "pi_123") is None
            assert uow.payments.by_provider_ref("stripe", "pi_other") is None

    def test_a_unit_left_without_commit_changes_nothing(
        self, storage: Storage, clock: FrozenClock, seller: User
    ) -> None:
        ticket = a_ticket(clock, seller.id)
        with storage.unit_of_work() as uow:
            uow.tickets.add(ticket)
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) is None

    def test_rollback_discards_the_units_changes(self, storage: Storage, clock: FrozenClock, seller: User) -> None:
        ticket = a_ticket(clock, seller.id)
        with storage.unit_of_work() as uow:
            uow.tickets.add(ticket)
            uow.rollback()
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) is None

    def test_an_error_inside_a_unit_rolls_it_back(self, storage: Storage, clock: FrozenClock, seller: User) -> None:
        ticket = a_ticket(clock, seller.id)

        def fail_midway() -> None:
            with storage.unit_of_work() as uow:
                uow.tickets.add(ticket)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_midway()
        with storage.unit_of_work() as uow:
            assert uow.tickets.get(ticket.id) is None

    def test_revoked_tokens_stay_revoked_and_revoking_twice_is_harmless(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.revoked_tokens.revoke("jti-1", clock.now() + timedelta(hours=1))
            uow.revoked_tokens.revoke("jti-1", clock.now() + timedelta(hours=1))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.revoked_tokens.is_revoked("jti-1")
            assert not uow.revoked_tokens.is_revoked("jti-2")


class ReservationContract(_Fixtures):
    """The reservation rule: held + sold never exceed capacity; expired holds never block."""

    def test_an_order_that_fits_is_placed_and_holds_its_units(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=3)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is not None
        assert units(storage, ticket, clock.now()) == Units(capacity=3, held=2, sold=0)

    def test_units_that_do_not_fit_are_refused_and_nothing_is_taken(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=3)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is not None
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is None
        assert units(storage, ticket, clock.now()).held == 2
        assert place(storage, ticket, buyer.id, clock.now(), quantity=1) is not None

    def test_a_sold_out_ticket_refuses_the_next_buyer(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=1)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        with storage.unit_of_work() as uow:
            assert uow.tickets.reserve(ticket.id, 1, clock.now()) is False

    def test_exactly_the_capacity_can_be_taken_and_not_one_unit_more(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=5)
        store(storage, ticket)
        placed = [place(storage, ticket, buyer.id, clock.now()) for _ in range(7)]
        assert sum(order is not None for order in placed) == 5
        assert units(storage, ticket, clock.now()) == Units(capacity=5, held=5, sold=0)

    def test_an_order_of_the_whole_capacity_fits_in_one_go(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=4)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now(), quantity=5) is None
        assert place(storage, ticket, buyer.id, clock.now(), quantity=4) is not None

    def test_a_hold_past_its_expiry_no_longer_counts_as_held(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=1)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        assert units(storage, ticket, clock.now() + TTL - timedelta(seconds=1)).held == 1
        assert units(storage, ticket, clock.now() + TTL).held == 0

    def test_a_hold_past_its_expiry_does_not_block_the_next_buyer(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=1)
        store(storage, ticket)
        first = place(storage, ticket, buyer.id, clock.now())
        assert first is not None
        clock.advance(TTL)
        second = place(storage, ticket, buyer.id, clock.now())
        assert second is not None
        # Storages that count live holds need no reclaim; counter-keeping ones expired the first order.
        with storage.unit_of_work() as uow:
            expired = uow.orders.get(first.id)
        assert expired is not None
        assert expired.status in (OrderStatus.CREATED, OrderStatus.CANCELLED)
        assert units(storage, ticket, clock.now()) == Units(capacity=1, held=1, sold=0)

    def test_a_live_hold_still_blocks_even_when_others_expired(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        clock.advance(seconds=30)
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        clock.advance(seconds=30)  # the first hold ran out, the second has 30 s left
        assert place(storage, ticket, buyer.id, clock.now()) is not None
        assert place(storage, ticket, buyer.id, clock.now()) is None

    def test_a_complete_order_counts_as_sold_forever(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=2)
        assert order is not None
        paying = move(storage, order, OrderStatus.AWAITING_PAYMENT)
        move(storage, paying, OrderStatus.COMPLETE)
        clock.advance(TTL * 10)
        assert units(storage, ticket, clock.now()) == Units(capacity=2, held=0, sold=2)
        assert place(storage, ticket, buyer.id, clock.now()) is None

    def test_a_refunded_order_gives_its_sold_units_back_once(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=2)
        assert order is not None
        complete = move(storage, move(storage, order, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        move(storage, complete, OrderStatus.CANCELLED, CancelReason.REFUNDED)
        with pytest.raises(ConcurrencyConflict):
            move(storage, complete, OrderStatus.CANCELLED, CancelReason.REFUNDED)
        assert units(storage, ticket, clock.now()) == Units(capacity=2, held=0, sold=0)
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is not None
        assert place(storage, ticket, buyer.id, clock.now()) is None

    def test_a_cancelled_order_frees_its_units_at_once(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=2)
        assert order is not None
        move(storage, order, OrderStatus.CANCELLED, CancelReason.BUYER)
        assert units(storage, ticket, clock.now()).held == 0
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is not None

    def test_a_transition_from_a_stale_version_is_a_conflict_and_changes_nothing(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=1)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now())
        assert order is not None
        paying = move(storage, order, OrderStatus.AWAITING_PAYMENT)
        with pytest.raises(ConcurrencyConflict):
            move(storage, order, OrderStatus.CANCELLED, CancelReason.BUYER)
        with storage.unit_of_work() as uow:
            assert uow.orders.get(order.id) == paying
        assert units(storage, ticket, clock.now()).held == 1

    def test_a_duplicate_cancellation_does_not_free_the_units_twice(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        first = place(storage, ticket, buyer.id, clock.now())
        second = place(storage, ticket, buyer.id, clock.now())
        assert first is not None
        assert second is not None
        move(storage, first, OrderStatus.CANCELLED, CancelReason.BUYER)
        with pytest.raises(ConcurrencyConflict):
            move(storage, first, OrderStatus.CANCELLED, CancelReason.EXPIRED)
        # One unit is free, not two: a counter moved twice would let this oversell.
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is None
        assert place(storage, ticket, buyer.id, clock.now(), quantity=1) is not None
        assert units(storage, ticket, clock.now()) == Units(capacity=2, held=2, sold=0)

    def test_due_lists_only_holds_that_ran_out_oldest_first(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        gig, opera = a_ticket(clock, seller.id, capacity=5), a_ticket(clock, seller.id, capacity=5)
        store(storage, gig, opera)
        old = place(storage, opera, buyer.id, clock.now())
        clock.advance(seconds=10)
        newer = place(storage, gig, buyer.id, clock.now())
        paid = place(storage, gig, buyer.id, clock.now())
        clock.advance(seconds=40)
        live = place(storage, gig, buyer.id, clock.now())
        assert old
        assert newer
        assert paid
        assert live
        move(storage, move(storage, paid, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        clock.advance(seconds=20)  # old and newer ran out; live has 40 s left
        with storage.unit_of_work() as uow:
            assert [o.id for o in uow.orders.due(clock.now(), 10)] == [old.id, newer.id]
            assert [o.id for o in uow.orders.due(clock.now(), 1)] == [old.id]
            assert [o.id for o in uow.orders.due(clock.now(), 10, ticket_id=gig.id)] == [newer.id]

    def test_expire_due_cancels_only_holds_that_ran_out_and_returns_them_as_changed(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        gig = a_ticket(clock, seller.id, capacity=6)
        store(storage, gig)
        held, paying, paid, dropped = (place(storage, gig, buyer.id, clock.now()) for _ in range(4))
        clock.advance(seconds=30)
        live = place(storage, gig, buyer.id, clock.now())
        assert held
        assert paying
        assert paid
        assert dropped
        assert live
        paying = move(storage, paying, OrderStatus.AWAITING_PAYMENT)
        paid = move(storage, move(storage, paid, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        dropped = move(storage, dropped, OrderStatus.CANCELLED, CancelReason.BUYER)
        clock.advance(seconds=31)  # held and paying ran out; live has 29 s left
        with storage.unit_of_work() as uow:
            expired = uow.orders.expire_due(clock.now(), 10)
            uow.commit()
        expected = [o.moved_to(OrderStatus.CANCELLED, reason=CancelReason.EXPIRED) for o in (held, paying)]
        assert sorted(expired, key=lambda o: o.id) == sorted(expected, key=lambda o: o.id)
        with storage.unit_of_work() as uow:
            for order in [*expected, paid, dropped, live]:
                assert uow.orders.get(order.id) == order
            assert uow.orders.expire_due(clock.now(), 10) == []
        # Two units freed, once each: with one live hold and one sold, exactly four fit again.
        assert place(storage, gig, buyer.id, clock.now(), quantity=5) is None
        assert place(storage, gig, buyer.id, clock.now(), quantity=4) is not None
        assert units(storage, gig, clock.now()) == Units(capacity=6, held=5, sold=1)

    def test_expire_due_takes_at_most_the_limit_oldest_first_and_only_when_committed(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        gig, opera = a_ticket(clock, seller.id, capacity=3), a_ticket(clock, seller.id, capacity=4)
        store(storage, gig, opera)
        holds: list[Order] = []
        for n in range(5):
            order = place(storage, (gig, opera)[n % 2], buyer.id, clock.now(), quantity=1 + n % 2)
            assert order is not None
            holds.append(order)
            clock.advance(seconds=1)
        clock.advance(TTL)
        with storage.unit_of_work() as uow:
            assert len(uow.orders.expire_due(clock.now(), 5)) == 5
            # Left without commit: nothing happened.
        with storage.unit_of_work() as uow:
            first = uow.orders.expire_due(clock.now(), 2)
            second = uow.orders.expire_due(clock.now(), 2)
            rest = uow.orders.expire_due(clock.now(), 2)
            uow.commit()
        assert [o.id for o in first + second + rest] == [o.id for o in holds]
        assert (len(first), len(second), len(rest)) == (2, 2, 1)
        # Every counter back to zero, not below: each ticket's whole capacity fits once more.
        for ticket in (gig, opera):
            assert place(storage, ticket, buyer.id, clock.now(), quantity=ticket.capacity) is not None
            assert place(storage, ticket, buyer.id, clock.now()) is None

    def test_sweepers_expiring_at_once_never_cancel_one_order_twice(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        tickets = [a_ticket(clock, seller.id, capacity=10) for _ in range(3)]
        store(storage, *tickets)
        holds = [place(storage, tickets[n % 3], buyer.id, clock.now()) for n in range(30)]
        clock.advance(TTL)
        now = clock.now()
        sweeps: list[list[str]] = [[] for _ in range(4)]
        start = threading.Barrier(len(sweeps))
        errors: list[BaseException] = []

        def sweeper(mine: list[str]) -> None:
            try:
                start.wait(10)
                while True:
                    with storage.unit_of_work() as uow:
                        batch = uow.orders.expire_due(now, 3)
                        uow.commit()
                    mine.extend(o.id for o in batch)
                    if not batch:
                        return
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=sweeper, args=(mine,)) for mine in sweeps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with storage.unit_of_work() as uow:
            left = [o.id for o in uow.orders.expire_due(now, 100)]
            uow.commit()
        cancelled = [order_id for mine in sweeps for order_id in mine] + left
        assert len(cancelled) == len(set(cancelled))
        assert set(cancelled) == {o.id for o in holds if o is not None}
        for ticket in tickets:
            assert place(storage, ticket, buyer.id, now, quantity=10) is not None
            assert place(storage, ticket, buyer.id, now) is None

    def test_a_ticket_edit_cannot_shrink_capacity_below_the_units_taken(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=3)
        store(storage, ticket)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=2)
        assert order is not None
        move(storage, move(storage, order, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        with storage.unit_of_work() as uow:
            uow.tickets.save(ticket, ticket.edited(capacity=2))
            uow.commit()
        assert units(storage, ticket, clock.now()) == Units(capacity=2, held=0, sold=2)
        assert place(storage, ticket, buyer.id, clock.now()) is None

    def test_a_replica_told_of_a_capacity_below_its_holds_keeps_them_and_refuses_new_ones_until_they_fit(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=4)
        store(storage, ticket)
        now = clock.now()
        held = [place(storage, ticket, buyer.id, now) for _ in range(3)]
        lowered = ticket.edited(capacity=1)
        with storage.unit_of_work() as uow:
            uow.tickets.save(ticket, lowered, over_commit=True)
            uow.commit()
        assert units(storage, ticket, now) == Units(capacity=1, held=3, sold=0)
        for order in held[:2]:
            assert place(storage, ticket, buyer.id, now) is None
            assert order is not None
            move(storage, order, OrderStatus.CANCELLED, CancelReason.BUYER)
        assert units(storage, ticket, now) == Units(capacity=1, held=1, sold=0)
        assert place(storage, ticket, buyer.id, now) is None
        assert held[2] is not None
        move(storage, held[2], OrderStatus.CANCELLED, CancelReason.BUYER)
        assert place(storage, ticket, buyer.id, now) is not None
        assert place(storage, ticket, buyer.id, now) is None
        assert units(storage, ticket, now) == Units(capacity=1, held=1, sold=0)

    def test_a_replica_records_an_order_its_source_placed_even_beyond_the_capacity_it_knows(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=2)
        store(storage, ticket)
        now = clock.now()
        first = place(storage, ticket, buyer.id, now, quantity=2)
        assert first is not None
        with storage.unit_of_work() as uow:
            assert uow.tickets.reserve(ticket.id, 3, now, over_commit=True)
            extra = replace(first, id=OrderId(new_id()), quantity=3, amount=ticket.price * 3)
            uow.orders.add(extra)
            uow.commit()
        assert units(storage, ticket, now) == Units(capacity=2, held=5, sold=0)
        assert place(storage, ticket, buyer.id, now) is None
        # The source raised the capacity meanwhile: once the replica hears of it, the units fit again.
        with storage.unit_of_work() as uow:
            uow.tickets.save(ticket, ticket.edited(capacity=6), over_commit=True)
            uow.commit()
        assert place(storage, ticket, buyer.id, now) is not None
        assert place(storage, ticket, buyer.id, now) is None
        move(storage, extra, OrderStatus.CANCELLED, CancelReason.BUYER)
        assert place(storage, ticket, buyer.id, now, quantity=3) is not None
        assert units(storage, ticket, now) == Units(capacity=6, held=6, sold=0)

    def test_an_over_committed_ticket_sells_what_it_holds_and_frees_nothing_beyond_its_capacity(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User
    ) -> None:
        ticket = a_ticket(clock, seller.id, capacity=3)
        store(storage, ticket)
        now = clock.now()
        orders = [place(storage, ticket, buyer.id, now) for _ in range(3)]
        with storage.unit_of_work() as uow:
            uow.tickets.save(ticket, ticket.edited(capacity=2), over_commit=True)
            uow.commit()
        paid = [o for o in orders if o is not None]
        for order in paid:
            move(storage, move(storage, order, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        assert units(storage, ticket, now) == Units(capacity=2, held=0, sold=3)
        assert place(storage, ticket, buyer.id, now) is None


class OutboxContract(_Fixtures):
    """The outbox, processed message ids and idempotency keys."""

    @staticmethod
    def add_messages(storage: Storage, clock: FrozenClock, count: int) -> list[Message]:
        messages = []
        with storage.unit_of_work() as uow:
            for n in range(count):
                message = Message(new_id(), "order:created", f'{{"n": {n}}}')
                uow.outbox.add(message, clock.now())
                messages.append(message)
                clock.advance(seconds=1)
            uow.commit()
        return messages

    def test_an_event_added_in_a_committed_unit_is_pending_and_claimable(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        [message] = self.add_messages(storage, clock, 1)
        with storage.unit_of_work() as uow:
            assert uow.outbox.pending() == 1
            [claimed] = uow.outbox.claim(clock.now(), clock.now() + timedelta(seconds=30), 10)
        assert claimed.message == message
        assert claimed.attempts == 0
        assert claimed.sent_at is None

    def test_the_backlog_counts_unsent_events_and_dates_the_oldest(self, storage: Storage, clock: FrozenClock) -> None:
        with storage.unit_of_work() as uow:
            assert uow.outbox.backlog() == (0, None)
        first = clock.now()
        oldest, *_ = self.add_messages(storage, clock, 3)
        with storage.unit_of_work() as uow:
            uow.outbox.mark_sent([oldest.id], clock.now())
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.outbox.backlog() == (2, first + timedelta(seconds=1))

    def test_an_event_of_a_rolled_back_unit_leaves_nothing(self, storage: Storage, clock: FrozenClock) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(Message(new_id(), "order:created", "{}"), clock.now())
            uow.rollback()
        with storage.unit_of_work() as uow:
            assert uow.outbox.pending() == 0
            assert uow.outbox.claim(clock.now(), clock.now() + timedelta(seconds=30), 10) == []

    def test_an_event_is_invisible_to_other_units_until_its_unit_commits(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        seen: list[int] = []
        done = threading.Event()

        def look() -> None:
            with storage.unit_of_work() as other:
                seen.append(other.outbox.pending())
            done.set()

        with storage.unit_of_work() as uow:
            uow.outbox.add(Message(new_id(), "order:created", "{}"), clock.now())
            reader = threading.Thread(target=look)
            reader.start()
            # Storages that serialise units make the reader wait for us; the others answer now.
            done.wait(0.3)
            uow.rollback()
        reader.join(10)
        assert seen == [0]

    def test_claims_take_the_oldest_rows_up_to_the_limit_and_lease_them(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        messages = self.add_messages(storage, clock, 5)
        now, lease = clock.now(), clock.now() + timedelta(seconds=30)
        with storage.unit_of_work() as uow:
            first = uow.outbox.claim(now, lease, 3)
            second = uow.outbox.claim(now, lease, 3)
            uow.commit()
        assert [r.message for r in first] == messages[:3]
        assert [r.message for r in second] == messages[3:]
        with storage.unit_of_work() as uow:
            assert uow.outbox.claim(now + timedelta(seconds=29), lease, 10) == []
            again = uow.outbox.claim(lease, lease + timedelta(seconds=30), 10)
        assert [r.message for r in again] == messages

    def test_a_sent_event_is_never_claimed_again(self, storage: Storage, clock: FrozenClock) -> None:
        first, second = self.add_messages(storage, clock, 2)
        now = clock.now()
        with storage.unit_of_work() as uow:
            uow.outbox.claim(now, now + timedelta(seconds=30), 10)
            uow.outbox.mark_sent([first.id], now)
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.outbox.pending() == 1
            later = uow.outbox.claim(now + timedelta(hours=1), now + timedelta(hours=2), 10)
        assert [r.message for r in later] == [second]

    def test_a_batch_marked_sent_in_one_call_is_sent_to_the_last_event_and_no_further(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        *batch, left = self.add_messages(storage, clock, 4)
        now = clock.now()
        with storage.unit_of_work() as uow:
            uow.outbox.claim(now, now + timedelta(seconds=30), 10)
            uow.outbox.mark_sent([message.id for message in batch], now)
            uow.outbox.mark_sent([], now)  # an empty batch is no statement and no error
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.outbox.pending() == 1
            later = uow.outbox.claim(now + timedelta(hours=1), now + timedelta(hours=2), 10)
        assert [r.message for r in later] == [left]

    def test_a_failed_event_waits_for_its_retry_time_then_dies_after_max_attempts(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        [message] = self.add_messages(storage, clock, 1)
        now = clock.now()
        for attempt in (1, 2, 3):
            retry_at = now + timedelta(seconds=attempt)
            with storage.unit_of_work() as uow:
                [claimed] = uow.outbox.claim(now, now + timedelta(seconds=30), 10)
                assert claimed.attempts == attempt - 1
                uow.outbox.mark_failed(message.id, f"broker down {attempt}", retry_at, max_attempts=3)
                uow.commit()
            with storage.unit_of_work() as uow:
                if attempt < 3:
                    assert uow.outbox.claim(retry_at - timedelta(milliseconds=1), retry_at, 10) == []
                    assert uow.outbox.pending() == 1
            now = retry_at
        with storage.unit_of_work() as uow:
            assert uow.outbox.pending() == 0
            assert uow.outbox.claim(now + timedelta(days=1), now + timedelta(days=2), 10) == []
            [dead] = uow.outbox.dead(10)
        assert dead.message == message
        assert dead.attempts == 3
        assert dead.last_error == "broker down 3"

    def test_two_relays_claiming_at_once_never_get_the_same_event(self, storage: Storage, clock: FrozenClock) -> None:
        messages = self.add_messages(storage, clock, 40)
        now, lease = clock.now(), clock.now() + timedelta(seconds=30)
        claims: list[list[str]] = [[] for _ in range(4)]
        start = threading.Barrier(len(claims))
        errors: list[BaseException] = []

        def relay(mine: list[str]) -> None:
            try:
                start.wait(10)
                for _ in range(6):
                    with storage.unit_of_work() as uow:
                        mine.extend(r.message.id for r in uow.outbox.claim(now, lease, 3))
                        uow.commit()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=relay, args=(mine,)) for mine in claims]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        claimed = [message_id for mine in claims for message_id in mine]
        assert len(claimed) == len(set(claimed)) == len(messages)

    def test_a_processed_message_is_recorded_once_per_subscriber(self, storage: Storage, clock: FrozenClock) -> None:
        with storage.unit_of_work() as uow:
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is True
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is False
            assert uow.processed.add("payments.cancel", "m-1", clock.now()) is True
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is False

    def test_a_processed_id_of_a_rolled_back_unit_is_not_recorded(self, storage: Storage, clock: FrozenClock) -> None:
        with storage.unit_of_work() as uow:
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is True
        with storage.unit_of_work() as uow:
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is True

    def test_a_batch_of_processed_ids_records_only_the_new_ones_once(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        """``add_many`` is optional (``BatchProcessedMessages``); where offered, it agrees with ``add``."""
        with storage.unit_of_work() as uow:
            if not isinstance(uow.processed, BatchProcessedMessages):
                pytest.skip("this storage records processed ids one at a time only")
            assert uow.processed.add("orders.schedule", "m-1", clock.now()) is True
            uow.commit()
        with storage.unit_of_work() as uow:
            assert isinstance(uow.processed, BatchProcessedMessages)
            fresh = uow.processed.add_many("orders.schedule", ["m-1", "m-2", "m-3", "m-2"], clock.now())
            assert fresh == {"m-2", "m-3"}
            assert uow.processed.add_many("payments.cancel", ["m-1"], clock.now()) == {"m-1"}
            assert uow.processed.add_many("payments.cancel", [], clock.now()) == set()
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.processed.add("orders.schedule", "m-3", clock.now()) is False
            assert uow.processed.add("payments.cancel", "m-1", clock.now()) is False

    def test_a_batch_of_processed_ids_of_a_rolled_back_unit_is_not_recorded(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        with storage.unit_of_work() as uow:
            if not isinstance(uow.processed, BatchProcessedMessages):
                pytest.skip("this storage records processed ids one at a time only")
            assert uow.processed.add_many("orders.schedule", ["m-1", "m-2"], clock.now()) == {"m-1", "m-2"}
        with storage.unit_of_work() as uow:
            assert isinstance(uow.processed, BatchProcessedMessages)
            assert uow.processed.add_many("orders.schedule", ["m-2", "m-1"], clock.now()) == {"m-1", "m-2"}

    def test_an_idempotency_key_runs_once_then_replays_its_response(self, storage: Storage, clock: FrozenClock) -> None:
        now, until = clock.now(), clock.now() + timedelta(hours=24)
        with storage.unit_of_work() as uow:
            assert uow.idempotency.begin("user-1", "key-1", "fp-a", now, until) is None
            uow.commit()
        with storage.unit_of_work() as uow:
            running = uow.idempotency.begin("user-1", "key-1", "fp-a", now, until)
            assert running is not None
            assert running.status_code is None
            assert running.body is None
            uow.idempotency.finish("user-1", "key-1", 201, '{"id": "o-1"}')
            uow.commit()
        with storage.unit_of_work() as uow:
            replay = uow.idempotency.begin("user-1", "key-1", "fp-a", now, until)
            other_caller = uow.idempotency.begin("user-2", "key-1", "fp-a", now, until)
        assert replay is not None
        assert (replay.status_code, replay.body) == (201, '{"id": "o-1"}')
        assert replay.fingerprint == "fp-a"
        assert replay.expires_at == until
        assert other_caller is None

    def test_an_idempotency_key_reused_with_another_request_shows_the_first_fingerprint(
        self, storage: Storage, clock: FrozenClock
    ) -> None:
        now, until = clock.now(), clock.now() + timedelta(hours=24)
        with storage.unit_of_work() as uow:
            uow.idempotency.begin("user-1", "key-1", "fp-a", now, until)
            uow.commit()
        with storage.unit_of_work() as uow:
            existing = uow.idempotency.begin("user-1", "key-1", "fp-b", now, until)
        assert existing is not None
        assert existing.fingerprint == "fp-a"

    def test_an_expired_or_abandoned_idempotency_key_may_run_again(self, storage: Storage, clock: FrozenClock) -> None:
        now, until = clock.now(), clock.now() + timedelta(hours=24)
        with storage.unit_of_work() as uow:
            uow.idempotency.begin("user-1", "key-1", "fp-a", now, until)
            uow.idempotency.finish("user-1", "key-1", 201, "{}")
            uow.idempotency.begin("user-1", "key-2", "fp-a", now, until)
            uow.commit()
        later = until + timedelta(seconds=1)
        with storage.unit_of_work() as uow:
            assert uow.idempotency.begin("user-1", "key-1", "fp-b", later, later + timedelta(hours=24)) is None
            uow.idempotency.abandon("user-1", "key-2")
            assert uow.idempotency.begin("user-1", "key-2", "fp-b", now, until) is None
            uow.commit()
        with storage.unit_of_work() as uow:
            fresh = uow.idempotency.begin("user-1", "key-1", "fp-c", later, later)
        assert fresh is not None
        assert fresh.fingerprint == "fp-b"
        assert fresh.status_code is None


class ReadQueryContract(_Fixtures):
    """The read side: availability from live holds, keyset pages, a buyer's orders."""

    @pytest.fixture
    def listed(self, storage: Storage, clock: FrozenClock, seller: User) -> Callable[..., Ticket]:
        def make(capacity: int = 1, title: str = "Gig") -> Ticket:
            ticket = a_ticket(clock, seller.id, capacity=capacity, title=title)
            store(storage, ticket)
            clock.advance(seconds=1)
            return ticket

        return make

    def test_the_available_listing_excludes_sold_out_and_fully_held_tickets(
        self, storage: Storage, clock: FrozenClock, buyer: User, listed: Callable[..., Ticket]
    ) -> None:
        sold, held, partly, free = listed(), listed(), listed(capacity=3), listed()
        order = place(storage, sold, buyer.id, clock.now())
        assert order is not None
        move(storage, move(storage, order, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        assert place(storage, held, buyer.id, clock.now()) is not None
        assert place(storage, partly, buyer.id, clock.now(), quantity=2) is not None
        page = storage.queries.available_tickets(clock.now(), 10)
        assert [t.id for t in page.items] == [partly.id, free.id]
        assert (page.items[0].available, page.items[0].held, page.items[0].sold) == (1, 2, 0)
        assert page.next_cursor is None

    def test_the_available_listing_includes_tickets_whose_holds_ran_out_before_any_sweep(
        self, storage: Storage, clock: FrozenClock, buyer: User, listed: Callable[..., Ticket]
    ) -> None:
        ticket = listed(capacity=2)
        assert place(storage, ticket, buyer.id, clock.now(), quantity=2) is not None
        assert storage.queries.available_tickets(clock.now(), 10).items == ()
        clock.advance(TTL)
        [view] = storage.queries.available_tickets(clock.now(), 10).items
        assert (view.id, view.available, view.held, view.sold) == (ticket.id, 2, 0, 0)

    def test_pages_follow_the_cursor_in_creation_order_without_gaps_or_repeats(
        self, storage: Storage, clock: FrozenClock, seller: User, listed: Callable[..., Ticket]
    ) -> None:
        tickets = [listed(title=f"T{n}") for n in range(5)]
        # Three more created in the same instant: the id breaks the tie.
        same_time = sorted((a_ticket(clock, seller.id) for _ in range(3)), key=lambda t: t.id)
        store(storage, *same_time)
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = storage.queries.available_tickets(clock.now(), 3, cursor)
            seen += [t.id for t in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [t.id for t in tickets + same_time]
        assert pages == 3

    def test_a_cursor_that_is_not_ours_gives_the_first_page(
        self, storage: Storage, clock: FrozenClock, listed: Callable[..., Ticket]
    ) -> None:
        first = listed()
        listed()
        page = storage.queries.available_tickets(clock.now(), 1, "not-a-cursor")
        assert [t.id for t in page.items] == [first.id]
        assert page.next_cursor is not None

    def test_a_sellers_listing_and_a_ticket_view_include_sold_out_tickets(
        self, storage: Storage, clock: FrozenClock, seller: User, buyer: User, listed: Callable[..., Ticket]
    ) -> None:
        ticket = listed(capacity=2)
        order = place(storage, ticket, buyer.id, clock.now(), quantity=2)
        assert order is not None
        move(storage, move(storage, order, OrderStatus.AWAITING_PAYMENT), OrderStatus.COMPLETE)
        owned = storage.queries.tickets_owned_by(seller.id, clock.now(), 10)
        assert [t.id for t in owned.items] == [ticket.id]
        assert storage.queries.tickets_owned_by(buyer.id, clock.now(), 10).items == ()
        view = storage.queries.ticket(ticket.id, clock.now())
        assert view is not None
        assert (view.available, view.held, view.sold, view.capacity) == (0, 0, 2, 2)
        assert view.price == ticket.price
        assert view.title == ticket.title
        assert view.owner_id == seller.id
        assert storage.queries.ticket(new_id(), clock.now()) is None

    def test_a_buyers_orders_are_theirs_only_oldest_first_and_paginated(
        self, storage: Storage, clock: FrozenClock, buyer: User, listed: Callable[..., Ticket]
    ) -> None:
        ticket = listed(capacity=10)
        other = a_user(clock)
        store(storage, other)
        mine = []
        for _ in range(3):
            order = place(storage, ticket, buyer.id, clock.now())
            assert order is not None
            mine.append(order)
            clock.advance(seconds=1)
        assert place(storage, ticket, other.id, clock.now()) is not None
        first = storage.queries.orders_for_user(buyer.id, 2)
        assert first.next_cursor is not None
        rest = storage.queries.orders_for_user(buyer.id, 2, first.next_cursor)
        assert [o.id for o in first.items + rest.items] == [o.id for o in mine]
        assert rest.next_cursor is None
        view = first.items[0]
        assert view.ticket.id == ticket.id
        assert view.ticket.title == ticket.title
        assert view.ticket.price == ticket.price
        assert (view.status, view.quantity, view.amount) == (OrderStatus.CREATED, 1, ticket.price)

    def test_an_order_view_shows_its_status_and_cancel_reason(
        self, storage: Storage, clock: FrozenClock, buyer: User, listed: Callable[..., Ticket]
    ) -> None:
        ticket = listed()
        order = place(storage, ticket, buyer.id, clock.now())
        assert order is not None
        move(storage, order, OrderStatus.CANCELLED, CancelReason.BUYER)
        view = storage.queries.order(order.id)
        assert view is not None
        assert (view.status, view.cancel_reason, view.version) == (OrderStatus.CANCELLED, "buyer", 1)
        assert view.expires_at == order.expires_at
        assert view.created_at == order.created_at
        assert storage.queries.order(new_id()) is None

    def test_a_user_view_shows_the_ban_and_no_password(self, storage: Storage, clock: FrozenClock) -> None:
        user = a_user(clock, "ann@example.com")
        store(storage, user)
        view = storage.queries.user(user.id)
        assert view is not None
        assert (view.email, view.banned) == ("ann@example.com", False)
        assert not hasattr(view, "password_hash")
        assert storage.queries.user(new_id()) is None


class StorageContract(RepositoryContract, ReservationContract, OutboxContract, ReadQueryContract):
    """Every storage contract at once: subclass it and provide ``storage`` (and optionally ``clock``)."""


def close_after(storage: Storage) -> Iterator[Storage]:
    """Yield ``storage`` and close it afterwards (for fixtures)."""
    try:
        yield storage
    finally:
        storage.close()


__all__ = [
    "TTL",
    "OutboxContract",
    "ReadQueryContract",
    "RepositoryContract",
    "ReservationContract",
    "StorageContract",
    "a_ticket",
    "a_user",
    "close_after",
    "move",
    "place",
    "store",
    "units",
]
