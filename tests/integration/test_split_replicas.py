"""Whatever buyers, sellers and clocks do, and however events arrive, every replica of a split ends equal to its source.

A random run of sales (listings, capacity edits, orders, cancellations, payments, sellers' refunds,
expiries) is
played on the five services, with deliveries at random moments, each subscriber's messages
shuffled and some delivered twice. Once everything is delivered:

- every replica of every ticket and order equals the record at its owner;
- every service counts the same units held and sold for each ticket;
- every order the orders service completed has exactly one payment kept, and no other order
  kept any money (what the orders service refused, the payments service refunded).

Hypothesis drives runs on in-memory services; a few fixed seeds run on SQLite files and on
PostgreSQL, where the units are counted in stripes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventhive_core import CancelOrder, CreateTicket, EventHiveError, PayOrder, PlaceOrder, RefundOrder, UpdateTicket
from eventhive_core.domain.payment import PaymentStatus
from eventhive_core.testing.fakes import FrozenClock

from .split_platform import TTL, Split

ON_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
BUYERS = 3


class Run:
    """Plays steps on a split and remembers what it made."""

    def __init__(self, split: Split, rng: random.Random) -> None:
        self.split, self.rng = split, rng
        self.seller = split.user("seller@example.com")
        self.buyers = [split.user(f"buyer{n}@example.com") for n in range(BUYERS)]
        self.tickets: list[str] = []
        self.orders: dict[str, str] = {}  # order id -> buyer

    def step(self, kind: str, a: int, b: int) -> None:
        split = self.split
        try:
            if kind == "list" or not self.tickets:
                listed = CreateTicket(owner_id=self.seller, title="Gig", price="10", capacity=1 + a % 4)
                self.tickets.append(split.tickets.handle(listed).id)
            elif kind == "edit":
                ticket = self.tickets[a % len(self.tickets)]
                split.tickets.handle(UpdateTicket(ticket_id=ticket, actor_id=self.seller, capacity=1 + b % 4))
            elif kind == "buy":
                buyer = self.buyers[b % BUYERS]
                order = split.orders.handle(
                    PlaceOrder(buyer_id=buyer, ticket_id=self.tickets[a % len(self.tickets)], quantity=1 + b % 2)
                )
                self.orders[order.id] = buyer
            elif kind in ("cancel", "pay", "refund") and self.orders:
                order_id = list(self.orders)[a % len(self.orders)]
                buyer = self.orders[order_id]
                if kind == "cancel":
                    split.orders.handle(CancelOrder(order_id=order_id, actor_id=buyer))
                elif kind == "refund":
                    split.orders.handle(RefundOrder(order_id=order_id, actor_id=self.seller))
                else:
                    split.payments.handle(PayOrder(order_id=order_id, actor_id=buyer, token=f"tok_{b % 2}"))
            elif kind == "wait":
                split.clock.advance(timedelta(seconds=(a % 3) * TTL / 2 + 1))
            elif kind == "expire":
                split.expiration.sweep()
            elif kind == "deliver":
                split.settle(shuffle=True, duplicate=0.3)
        except EventHiveError:
            pass  # refused (sold out, not replicated yet, cancelled...): a refusal changes nothing anywhere

    def check(self) -> None:
        split = self.split
        split.settle(shuffle=True, duplicate=0.3)
        now = split.clock.now()
        with split.tickets.uow() as uow:
            tickets = {t: uow.tickets.get(t) for t in self.tickets}
        with split.orders.uow() as uow:
            orders = {o: uow.orders.get(o) for o in self.orders}
            units = {t: uow.tickets.units(t, now) for t in self.tickets}
        for role in ("tickets", "payments", "expiration"):
            with split.hives[role].uow() as uow:
                assert {o: uow.orders.get(o) for o in self.orders} == orders, role
                assert {t: uow.tickets.units(t, now) for t in self.tickets} == units, role
        for role in ("orders", "payments", "expiration"):
            with split.hives[role].uow() as uow:
                assert {t: uow.tickets.get(t) for t in self.tickets} == tickets, role
        with split.payments.uow() as uow:
            for order_id, order in orders.items():
                assert order is not None
                kept = [p for p in uow.payments.for_order(order_id) if p.status is PaymentStatus.SUCCEEDED]
                assert len(kept) == (1 if str(order.status) == "complete" else 0), (order, kept)


STEPS = ("list", "edit", "buy", "buy", "buy", "cancel", "pay", "pay", "refund", "wait", "expire", "deliver", "deliver")
steps = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 11), st.integers(0, 11)), min_size=5, max_size=40)


def play(split: Split, plan: list[tuple[str, int, int]], seed: int) -> None:
    run = Run(split, random.Random(seed))
    split.stream.rng.seed(seed)
    for kind, a, b in plan:
        run.step(kind, a, b)
    run.check()


@settings(max_examples=40, deadline=None)
@given(plan=steps, seed=st.integers(0, 2**32))
def test_replicas_of_a_split_end_equal_to_their_sources_whatever_happens_and_in_whatever_order(
    plan: list[tuple[str, int, int]], seed: int
) -> None:
    split = Split(None, FrozenClock())
    try:
        play(split, plan, seed)
    finally:
        split.close()


@pytest.fixture
def database_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    if request.param == "sqlite":
        return lambda role: f"sqlite:///{tmp_path / f'{role}.sqlite3'}"
    from eventhive_core.adapters.sqlalchemy import upgrade

    make = request.getfixturevalue("postgres_database_factory")

    def migrated(role: str) -> str:
        url = str(make())
        upgrade(url)
        return url

    return migrated


@pytest.mark.parametrize("database_urls", ["sqlite", ON_POSTGRES], indirect=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_sql_databases_the_replicas_of_a_split_end_equal_to_their_sources(
    database_urls: Callable[[str], str], seed: int
) -> None:
    rng = random.Random(seed)
    plan = [(rng.choice(STEPS), rng.randrange(12), rng.randrange(12)) for _ in range(60)]
    split = Split(database_urls, FrozenClock())
    try:
        play(split, plan, seed)
    finally:
        split.close()
