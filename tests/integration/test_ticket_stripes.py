"""A ticket's units counted in stripes on PostgreSQL: spread, the margin, the shares, the constraints."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from eventhive_core import CreateTicket, Hive, HiveSettings, PlaceOrder, SignUp, UpdateTicket
from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage
from eventhive_core.adapters.sqlalchemy.storage import DEFAULT_STRIPES
from eventhive_core.adapters.sqlalchemy.tables import orders, ticket_stripes
from eventhive_core.clock import SystemClock
from eventhive_core.domain.errors import ConcurrencyConflict, ConfigurationError, SoldOut
from eventhive_core.domain.ids import TicketId, UserId, new_id
from eventhive_core.domain.money import Money
from eventhive_core.domain.ticket import Ticket
from eventhive_core.plugins.builtin.sqlalchemy_storage import make_sqlalchemy_storage
from eventhive_core.testing.hives import make_test_hive

pytestmark = pytest.mark.postgres


@pytest.fixture
def hive(clean_postgres_url: str) -> Iterator[Hive]:
    with make_test_hive(SystemClock(), storage="sqlalchemy", database_url=clean_postgres_url) as hive:
        yield hive


@pytest.fixture
def seller(hive: Hive) -> str:
    return hive.handle(SignUp(email="seller@example.com", password="password")).user.id


@pytest.fixture
def buyer(hive: Hive) -> str:
    return hive.handle(SignUp(email="buyer@example.com", password="password")).user.id


def stripes(url: str, ticket_id: str) -> list[tuple[int, int, int, int]]:
    """``(stripe, capacity, held, sold)`` of each stripe of the ticket, in stripe order."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    s = ticket_stripes.c
    try:
        with engine.connect() as conn:
            query = sa.select(s.stripe, s.capacity, s.held, s.sold).where(s.ticket_id == ticket_id).order_by(s.stripe)
            return [(row.stripe, row.capacity, row.held, row.sold) for row in conn.execute(query)]
    finally:
        engine.dispose()


def test_a_new_ticket_splits_its_capacity_into_shares_that_add_up_to_it(
    hive: Hive, seller: str, clean_postgres_url: str
) -> None:
    big = hive.handle(CreateTicket(owner_id=seller, title="Big", price="10", capacity=1000)).id
    small = hive.handle(CreateTicket(owner_id=seller, title="Small", price="10", capacity=3)).id

    assert [capacity for _, capacity, _, _ in stripes(clean_postgres_url, big)] == [63] * 8 + [62] * 8
    assert len(stripes(clean_postgres_url, big)) == DEFAULT_STRIPES
    # Never more stripes than units.
    assert [capacity for _, capacity, _, _ in stripes(clean_postgres_url, small)] == [1, 1, 1]


def test_buyers_of_one_ticket_land_in_different_stripes_and_each_order_records_its_own(
    hive: Hive, seller: str, buyer: str, clean_postgres_url: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=1600)).id

    for _ in range(40):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))

    found = stripes(clean_postgres_url, ticket)
    assert sum(held for _, _, held, _ in found) == 40
    assert sum(1 for _, _, held, _ in found if held) > 1  # picked from a random start
    engine = sa.create_engine(clean_postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            counted = sa.select(orders.c.stripe, sa.func.count().label("placed")).where(orders.c.ticket_id == ticket)
            per_stripe: dict[int, int] = {
                row.stripe: row.placed for row in conn.execute(counted.group_by(orders.c.stripe))
            }
    finally:
        engine.dispose()
    assert per_stripe == {stripe: held for stripe, _, held, _ in found if held}


def test_an_order_larger_than_any_stripe_takes_free_capacity_from_the_others_and_every_unit_sells(
    hive: Hive, seller: str, buyer: str, clean_postgres_url: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=16)).id  # 16 x 1

    first = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket, quantity=5))
    for quantity in (4, 3, 2, 1, 1):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket, quantity=quantity))
    with pytest.raises(SoldOut):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))

    found = stripes(clean_postgres_url, ticket)
    assert sum(capacity for _, capacity, _, _ in found) == 16
    assert sum(held for _, _, held, _ in found) == 16
    assert all(held + sold <= capacity for _, capacity, held, sold in found)
    assert first.quantity == 5
    view = hive.queries.ticket(ticket)
    assert view is not None
    assert (view.available, view.held) == (0, 16)


def test_a_new_capacity_is_shared_out_again_and_a_small_ticket_raised_gets_more_stripes(
    hive: Hive, seller: str, buyer: str, clean_postgres_url: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=2)).id
    assert len(stripes(clean_postgres_url, ticket)) == 2

    hive.handle(UpdateTicket(ticket_id=ticket, actor_id=seller, capacity=100))
    raised = stripes(clean_postgres_url, ticket)
    hive.handle(UpdateTicket(ticket_id=ticket, actor_id=seller, capacity=20))
    lowered = stripes(clean_postgres_url, ticket)

    assert len(raised) == DEFAULT_STRIPES
    assert sum(capacity for _, capacity, _, _ in raised) == 100
    assert max(c for _, c, _, _ in raised) - min(c for _, c, _, _ in raised) <= 1
    assert len(lowered) == DEFAULT_STRIPES  # stripes are never removed
    assert sum(capacity for _, capacity, _, _ in lowered) == 20
    for _ in range(20):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))
    with pytest.raises(SoldOut):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket))


def test_the_database_refuses_shares_that_do_not_add_up_to_the_capacity_and_a_stripe_past_its_share(
    hive: Hive, seller: str, clean_postgres_url: str
) -> None:
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=32)).id
    engine = sa.create_engine(clean_postgres_url, poolclass=sa.pool.NullPool)
    s = ticket_stripes.c
    try:
        # A share grown without another shrinking: refused at commit by the deferred trigger.
        with (
            pytest.raises(sa.exc.IntegrityError, match="has capacity 32 but its stripes share 33"),
            engine.begin() as conn,
        ):
            conn.execute(
                sa.update(ticket_stripes).where(s.ticket_id == ticket, s.stripe == 0).values(capacity=s.capacity + 1)
            )
        # Moving capacity between stripes in one transaction is allowed.
        with engine.begin() as conn:
            for stripe, change in ((0, 1), (1, -1)):
                conn.execute(
                    sa.update(ticket_stripes)
                    .where(s.ticket_id == ticket, s.stripe == stripe)
                    .values(capacity=s.capacity + change)
                )
        # A stripe's own counters never pass its share.
        with pytest.raises(sa.exc.IntegrityError, match="units_within_capacity"), engine.begin() as conn:
            conn.execute(sa.update(ticket_stripes).where(s.ticket_id == ticket, s.stripe == 1).values(held=2))
    finally:
        engine.dispose()
    assert [capacity for _, capacity, _, _ in stripes(clean_postgres_url, ticket)][:2] == [3, 1]


def test_a_buyer_whose_stripe_lost_its_last_unit_meanwhile_is_told_to_retry_and_then_hears_sold_out(
    clean_postgres_url: str,
) -> None:
    storage = SqlAlchemyStorage(clean_postgres_url)
    now = datetime.now(UTC)
    ticket = Ticket(TicketId(new_id()), "Gig", Money(1000), UserId(new_id()), now, capacity=1)
    with storage.unit_of_work() as uow:
        uow.tickets.add(ticket)
        uow.commit()
    first_reserved, second_done = threading.Event(), threading.Event()
    outcome: list[object] = []

    def second() -> None:
        first_reserved.wait(10)
        try:
            with storage.unit_of_work() as uow:
                # Sees the unit free (the first has not committed), picks its stripe, waits.
                outcome.append(uow.tickets.reserve(ticket.id, 1, now))
        except ConcurrencyConflict as exc:
            outcome.append(exc)
        second_done.set()

    rival = threading.Thread(target=second)
    rival.start()
    try:
        with storage.unit_of_work() as uow:
            assert uow.tickets.reserve(ticket.id, 1, now)
            first_reserved.set()
            assert not second_done.wait(0.5)  # the rival waits on the stripe
            uow.commit()
        rival.join(10)
        assert len(outcome) == 1
        assert isinstance(outcome[0], ConcurrencyConflict)
        with storage.unit_of_work() as uow:  # retried whole: the unit is gone
            assert not uow.tickets.reserve(ticket.id, 1, now + timedelta(seconds=1))
    finally:
        rival.join(10)
        storage.close()


def test_stripes_above_one_are_refused_on_sqlite_whose_writers_take_turns(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match="stripes=4 needs PostgreSQL"):
        SqlAlchemyStorage(sqlite_url, stripes=4)
    storage = SqlAlchemyStorage(sqlite_url)
    try:
        assert storage.stripes == 1
    finally:
        storage.close()


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"stripes": "16"}, "stripes must be a whole number, not '16'"),
        ({"stripes": True}, "stripes must be a whole number"),
        ({"stripes": 0}, "stripes must be from 1 to 256, not 0"),
        ({"fast_path": "yes"}, "fast_path must be true or false, not 'yes'"),
    ],
)
def test_the_storage_options_stripes_and_fast_path_are_checked_and_named(
    sqlite_url: str, options: dict[str, object], refusal: str
) -> None:
    settings = HiveSettings(storage="sqlalchemy", database_url=sqlite_url)
    with pytest.raises(ConfigurationError, match=re.escape(refusal)):
        make_sqlalchemy_storage(settings, options)


def test_the_storage_options_set_the_stripes_of_new_tickets(clean_postgres_url: str) -> None:
    settings = HiveSettings(storage="sqlalchemy", database_url=clean_postgres_url)
    storage = make_sqlalchemy_storage(settings, {"stripes": 4, "fast_path": False})
    try:
        assert (storage.stripes, storage.path) == (4, "portable")  # type: ignore[attr-defined]
        ticket = Ticket(TicketId(new_id()), "Gig", Money(1000), UserId(new_id()), datetime.now(UTC), capacity=100)
        with storage.unit_of_work() as uow:
            uow.tickets.add(ticket)
            uow.commit()
    finally:
        storage.close()
    assert [capacity for _, capacity, _, _ in stripes(clean_postgres_url, ticket.id)] == [25, 25, 25, 25]
