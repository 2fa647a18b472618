"""A ticket replica fed shuffled, duplicated events ends equal to its source, applying each once."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventhive_core import CreateTicket, Hive, SignUp, UpdateTicket, hookimpl
from eventhive_core.ports.messages import Message
from eventhive_core.service_layer.replicas import ReplicaBehind, ticket_replica_subscribers
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive

from .conftest import ON_POSTGRES

#: An edit: which ticket, and which of title, price, capacity it changes.
Edit = tuple[int, str | None, int | str | None, int | None]


class TicketReplica:
    """The orders service's ticket replica, as a plugin."""

    @hookimpl
    def eventhive_register_subscribers(self, register: Any) -> None:
        for subscriber in ticket_replica_subscribers("orders"):
            register(subscriber.name, subscriber.event_type, subscriber.role, subscriber.handler)


def source_events(edits: list[Edit], tickets: int = 3) -> tuple[Hive, list[Message]]:
    """A tickets service that listed ``tickets`` tickets and applied ``edits``; and what it published."""
    bus = RecordingBus()
    source = make_test_hive(FrozenClock(), event_bus=bus)
    seller = source.handle(SignUp(email="seller@example.com", password="password")).user.id
    ids = [
        source.handle(CreateTicket(owner_id=seller, title=f"T{n}", price="10", capacity=5)).id for n in range(tickets)
    ]
    for which, title, price, capacity in edits:
        source.handle(UpdateTicket(ticket_id=ids[which], actor_id=seller, title=title, price=price, capacity=capacity))
    source.relay_outbox()
    return source, [m for m in bus.published if m.type.startswith("ticket:")]


def deliver_until_applied(replica: Hive, messages: list[Message], limit: int = 10_000) -> dict[str, int]:
    """Deliver ``messages`` in the order given; one the replica is not ready for goes to the back.

    Returns how many times each event was set back (as a bus would redeliver it later).
    Checks after each delivery that the replica's ticket moved by exactly one version, or not at all.
    """
    deliveries: dict[str, Callable[[Message], None]] = {s.event_type: s.handler for s in replica.bus.subscriptions}
    queue, set_back = list(messages), {}
    for _ in range(limit):
        if not queue:
            return set_back
        message = queue.pop(0)
        ticket_id = json.loads(message.body)["data"]["id"]
        before = _version(replica, ticket_id)
        try:
            deliveries[message.type](message)
        except ReplicaBehind:
            set_back[message.id] = set_back.get(message.id, 0) + 1
            queue.append(message)
        after = _version(replica, ticket_id)
        assert after == before or after == (0 if before is None else before + 1), (ticket_id, before, after)
    raise AssertionError(f"{len(queue)} events never applied")


def _version(replica: Hive, ticket_id: str) -> int | None:
    with replica.uow() as uow:
        ticket = uow.tickets.get(ticket_id)
    return None if ticket is None else ticket.version


def assert_replica_equals_source(source: Hive, replica: Hive) -> None:
    with source.uow() as theirs, replica.uow() as ours:
        for ticket_id in [view.id for view in source.queries.available_tickets(limit=100).items]:
            assert ours.tickets.get(ticket_id) == theirs.tickets.get(ticket_id)


edits = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.one_of(st.none(), st.sampled_from(["Gig", "Show", "Talk"])),
        st.one_of(st.none(), st.integers(1, 500)),
        st.one_of(st.none(), st.integers(1, 40)),
    ).filter(lambda edit: edit[1:] != (None, None, None)),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(edits=edits, seed=st.integers(0, 2**32), duplicated=st.floats(0, 1))
def test_a_ticket_replica_fed_shuffled_and_duplicated_events_ends_equal_to_its_source(
    edits: list[Edit], seed: int, duplicated: float
) -> None:
    source, messages = source_events(edits)
    shuffle = random.Random(seed)
    fed = messages + [m for m in messages if shuffle.random() < duplicated]
    shuffle.shuffle(fed)
    with source, make_test_hive(FrozenClock(), plugins=(TicketReplica(),)) as replica:
        deliver_until_applied(replica, fed)
        assert_replica_equals_source(source, replica)


@pytest.mark.parametrize("database", ["sqlite", ON_POSTGRES])
def test_on_sql_storage_the_replica_applies_each_event_once_in_version_order_and_sells_the_new_capacity(
    database: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "clean_postgres_url")
    source, messages = source_events(
        [(0, "Renamed", None, None), (0, None, "15.00", 12), (1, None, None, 1), (0, "Last", None, None)]
    )
    newest_first = list(reversed(messages)) + messages  # every update ahead of its ticket, then everything again
    with (
        source,
        make_test_hive(FrozenClock(), plugins=(TicketReplica(),), storage="sqlalchemy", database_url=url) as replica,
    ):
        set_back = deliver_until_applied(replica, newest_first)
        assert_replica_equals_source(source, replica)
        assert set_back  # the updates came before their tickets and waited
        with replica.uow() as uow:
            ticket = uow.tickets.get(_first_ticket(source))
            assert ticket is not None
            assert (ticket.title, ticket.price.minor, ticket.capacity, ticket.version) == ("Last", 1500, 12, 3)
            assert uow.tickets.units(ticket.id, replica.clock.now()).free == 12


def _first_ticket(source: Hive) -> str:
    return source.queries.available_tickets(limit=1).items[0].id
