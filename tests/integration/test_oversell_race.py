"""Sixteen processes race for the last units of one ticket: never one unit too many."""

from __future__ import annotations

from eventhive_core import CreateTicket, PlaceOrder

from .conftest import WORKERS, RaceArena, ticket_units

ROUNDS = 5
CAPACITY = 40
PREFILLED = 30  # the race is for the last CAPACITY - PREFILLED units


def test_sixteen_processes_never_take_more_than_the_capacity_in_five_rounds(arena: RaceArena) -> None:
    hive = arena.hive
    assert len(arena.workers.all) == WORKERS >= 16
    for round_no in range(ROUNDS):
        ticket = hive.handle(
            CreateTicket(owner_id=arena.seller, title=f"Race {round_no}", price="10", capacity=CAPACITY)
        )
        for _ in range(PREFILLED // 10):
            hive.handle(PlaceOrder(buyer_id=arena.filler, ticket_id=ticket.id, quantity=10))
        answers = arena.workers.run(
            [
                # Half ask for one unit, half for two; each keeps buying until it hears "sold out".
                {"op": "place", "ticket": ticket.id, "buyer": buyer, "quantity": 1 + n % 2, "attempts": 10}
                for n, buyer in enumerate(arena.users)
            ]
        )
        errors = [error for answer in answers for error in answer["errors"]]
        assert set(errors) <= {"SoldOut"}, f"round {round_no}: {errors}"
        taken = sum(order["quantity"] for answer in answers for order in answer["placed"])
        assert taken == CAPACITY - PREFILLED, f"round {round_no}"
        units = ticket_units(arena.url, ticket.id)
        assert units["units_held"] == units["orders_holding"] == CAPACITY, f"round {round_no}: {units}"
        assert units["stripes_consistent"], f"round {round_no}: {units}"
        view = hive.queries.ticket(ticket.id)
        assert view is not None
        assert (view.available, view.held) == (0, CAPACITY)
