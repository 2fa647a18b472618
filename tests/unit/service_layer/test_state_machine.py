"""Random interleavings of reserve, cancel, expire, pay, sweep and clock moves never oversell.

Invariants checked after every step:
- held + sold never exceeds capacity (computed from the orders themselves, by the pure rule);
- a complete order stays complete;
- the storage's own view of units agrees with the pure rule.
At the end the clock moves past TTL + grace, the sweeper and relay run, and no order is live.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    EventHiveError,
    ExpireOrder,
    OrderStatus,
    OrderView,
    PayOrder,
    PlaceOrder,
    SignUp,
)
from eventhive_core.domain.reservation import is_live
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive

TTL = 60


class Marketplace(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock()
        self.hive = make_test_hive(self.clock, reservation_ttl=TTL)
        seller = self.hive.handle(SignUp(email="seller@example.com", password="password")).user.id
        self.buyers = [
            self.hive.handle(SignUp(email=f"b{i}@example.com", password="password")).user.id for i in range(3)
        ]
        self.tickets = {
            self.hive.handle(CreateTicket(owner_id=seller, title=f"T{c}", price=10, capacity=c)).id: c for c in (1, 3)
        }
        self.completed: set[str] = set()

    def _orders(self) -> list[OrderView]:
        found: list[OrderView] = []
        for buyer in self.buyers:
            cursor = None
            while True:
                page = self.hive.queries.orders_for_user(buyer, limit=100, cursor=cursor)
                found += page.items
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        return found

    @rule(
        target=orders,
        buyer=st.integers(0, 2),
        ticket=st.integers(0, 1),
        quantity=st.integers(1, 3),
    )
    def reserve(self, buyer: int, ticket: int, quantity: int) -> str:
        ticket_id = list(self.tickets)[ticket]
        try:
            return self.hive.handle(PlaceOrder(buyer_id=self.buyers[buyer], ticket_id=ticket_id, quantity=quantity)).id
        except EventHiveError:
            return "missing"

    @rule(order=orders)
    def cancel(self, order: str) -> None:
        view = self._view(order)
        if view is None:
            return
        try:
            self.hive.handle(CancelOrder(order_id=order, actor_id=view.buyer_id))
        except EventHiveError:
            assert view.status is OrderStatus.COMPLETE

    @rule(order=orders)
    def expire(self, order: str) -> None:
        self.hive.handle(ExpireOrder(order_id=order))

    @rule(order=orders, token=st.sampled_from(["tok_visa", "tok_chargeDeclined"]))
    def pay(self, order: str, token: str) -> None:
        view = self._view(order)
        if view is None:
            return
        try:
            self.hive.handle(PayOrder(order_id=order, actor_id=view.buyer_id, token=token))
        except EventHiveError:
            return
        self.completed.add(order)

    @rule(seconds=st.integers(1, 90))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        self.hive.sweep()

    @rule()
    def relay(self) -> None:
        self.hive.relay_outbox()

    def _view(self, order: str):  # type: ignore[no-untyped-def]
        try:
            return self.hive.queries.order(order)
        except EventHiveError:
            return None

    @invariant()
    def held_plus_sold_never_exceeds_capacity(self) -> None:
        now = self.clock.now()
        orders = self._orders()
        for ticket_id, capacity in self.tickets.items():
            mine = [o for o in orders if o.ticket.id == ticket_id]
            held = sum(o.quantity for o in mine if is_live(o.status, o.expires_at, now))
            sold = sum(o.quantity for o in mine if o.status is OrderStatus.COMPLETE)
            assert held + sold <= capacity
            view = self.hive.queries.ticket(ticket_id)
            assert (view.held, view.sold) == (held, sold)

    @invariant()
    def a_complete_order_is_never_cancelled(self) -> None:
        for order_id in self.completed:
            assert self.hive.queries.order(order_id).status is OrderStatus.COMPLETE

    def teardown(self) -> None:
        self.clock.advance(timedelta(seconds=TTL) + self.hive.settings.expiry_grace)
        self.hive.sweep()
        self.hive.relay_outbox()
        live = [o for o in self._orders() if o.status in (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT)]
        assert live == []
        with self.hive.uow() as uow:
            assert uow.outbox.pending() == 0
        self.hive.close()


TestEveryHoldEndsPaidOrCancelledAndNothingIsOversold = Marketplace.TestCase
