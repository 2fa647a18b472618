"""Reservations racing with cancellation and with expiry of the same units, across processes."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from eventhive_core import CreateTicket, Hive, OrderStatus, PlaceOrder, SoldOut
from eventhive_core.adapters.sqlalchemy.tables import outbox
from eventhive_core.clock import SystemClock
from eventhive_core.testing.hives import make_test_hive

from .conftest import WORKERS, RaceArena, ticket_units

ROUNDS = 5
CAPACITY = 12


def events_by_subject(url: str) -> dict[str, Counter[str]]:
    """Count outbox events per type and per order id."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(outbox.c.type, outbox.c.body)).all()
    finally:
        engine.dispose()
    counts: dict[str, Counter[str]] = {}
    for kind, body in rows:
        data = json.loads(body)["data"]
        counts.setdefault(kind, Counter())[data.get("order_id") or data["id"]] += 1
    return counts


def fill_up(hive: Hive, buyer: str, ticket_id: str) -> int:
    """Take units one by one until sold out; return how many were still free."""
    taken = 0
    while True:
        try:
            hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket_id, quantity=1))
        except SoldOut:
            return taken
        taken += 1


def test_reservations_racing_with_cancellations_never_lose_or_double_free_units(arena: RaceArena) -> None:
    hive, workers = arena.hive, arena.workers
    holders, buyers = arena.users[:4], arena.users[8:]
    for round_no in range(ROUNDS):
        ticket = hive.handle(CreateTicket(owner_id=arena.seller, title=f"C{round_no}", price="10", capacity=CAPACITY))
        held = [hive.handle(PlaceOrder(buyer_id=h, ticket_id=ticket.id, quantity=2)) for h in holders]
        for _ in range(2):
            hive.handle(PlaceOrder(buyer_id=arena.filler, ticket_id=ticket.id, quantity=2))
        # Two processes cancel each held order at once while eight others try to buy.
        cancels = [{"op": "cancel", "order": held[n // 2].id, "actor": holders[n // 2]} for n in range(WORKERS // 2)]
        buys = [
            {"op": "place", "ticket": ticket.id, "buyer": b, "attempts": 20, "stop_on_sold_out": False} for b in buyers
        ]
        answers = workers.run(cancels + buys)
        assert [a["errors"] for a in answers[: len(cancels)]] == [[]] * len(cancels)
        assert {e for a in answers[len(cancels) :] for e in a["errors"]} <= {"SoldOut"}
        bought = sum(len(a["placed"]) for a in answers[len(cancels) :])
        assert bought <= 8
        events = events_by_subject(arena.url)
        for order in held:
            view = hive.queries.order(order.id)
            assert view is not None
            assert (view.status, view.cancel_reason) == (OrderStatus.CANCELLED, "buyer")
            assert events["order:cancelled"][order.id] == 1
        units = ticket_units(arena.url, ticket.id)
        assert units["units_held"] == units["orders_holding"] == 4 + bought, units
        assert units["stripes_consistent"], units
        assert fill_up(hive, arena.filler, ticket.id) == 8 - bought
        units = ticket_units(arena.url, ticket.id)
        assert units["units_held"] == units["orders_holding"] == CAPACITY, units
        assert units["stripes_consistent"], units


def test_reservations_racing_with_expiry_cancel_each_hold_exactly_once(arena: RaceArena) -> None:
    workers = arena.workers  # their holds last 60 s
    holders, buyers = arena.users[:6], arena.users[8:]
    with make_test_hive(
        SystemClock(), storage="sqlalchemy", database_url=arena.url, reservation_ttl=timedelta(seconds=1)
    ) as hive:
        for round_no in range(ROUNDS):
            ticket = hive.handle(
                CreateTicket(owner_id=arena.seller, title=f"E{round_no}", price="10", capacity=CAPACITY)
            )
            held = [hive.handle(PlaceOrder(buyer_id=h, ticket_id=ticket.id, quantity=2)) for h in holders]
            time.sleep(1.05)  # every hold has run out; no sweeper has run
            ids = [order.id for order in held]
            expirers = [
                {"op": "expire", "orders": ids[n:] + ids[:n]} if n % 2 == 0 else {"op": "sweep"}
                for n in range(WORKERS // 2)
            ]
            buys = [
                {"op": "place", "ticket": ticket.id, "buyer": b, "attempts": 20, "stop_on_sold_out": False}
                for b in buyers
            ]
            answers = workers.run(expirers + buys)
            for answer in answers[: len(expirers)]:
                # A sweep skips the holds another expirer took first, so no expirer fails.
                assert answer["errors"] == [], answer
            assert {e for a in answers[len(expirers) :] for e in a["errors"]} <= {"SoldOut"}
            assert sum(a.get("results", []).count("expired") for a in answers) <= len(held)
            bought = sum(len(a["placed"]) for a in answers[len(expirers) :])
            events = events_by_subject(arena.url)
            for order in held:
                view = hive.queries.order(order.id)
                assert view is not None
                assert (view.status, view.cancel_reason) == (OrderStatus.CANCELLED, "expired")
                assert events["expiration:complete"][order.id] == 1
                assert events["order:cancelled"][order.id] == 1
            units = ticket_units(arena.url, ticket.id)
            assert units["units_held"] == units["orders_holding"] == bought <= CAPACITY, units
            assert units["stripes_consistent"], units
            assert fill_up(arena.hive, arena.filler, ticket.id) == CAPACITY - bought
