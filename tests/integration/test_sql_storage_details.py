"""Details of the SQL storage that the port contract cannot see: time zones, SQLite locking, errors."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from eventhive_core.adapters.sqlalchemy import SqlAlchemyStorage
from eventhive_core.adapters.sqlalchemy.errors import is_retryable, translated_errors
from eventhive_core.domain.errors import ConcurrencyConflict, TransientStorageError
from eventhive_core.domain.ids import UserId, new_id
from eventhive_core.domain.user import User
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import TokenStanding


@pytest.fixture
def sqlite_storage(sqlite_url: str) -> Iterator[SqlAlchemyStorage]:
    storage = SqlAlchemyStorage(sqlite_url)
    yield storage
    storage.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> Iterator[SqlAlchemyStorage]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "clean_postgres_url")
    built = SqlAlchemyStorage(url)
    yield built
    built.close()


def test_a_naive_datetime_is_refused_before_it_reaches_the_database(storage: SqlAlchemyStorage) -> None:
    naive = User(UserId(new_id()), "ann@example.com", "hash", datetime(2026, 1, 1, 12, 0))
    with storage.unit_of_work() as uow, pytest.raises(sa.exc.StatementError, match="naive datetime"):
        uow.users.add(naive)


def test_times_come_back_aware_in_utc_whatever_zone_they_were_stored_in(storage: SqlAlchemyStorage) -> None:
    paris = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    user = User(UserId(new_id()), "ann@example.com", "hash", paris)
    with storage.unit_of_work() as uow:
        uow.users.add(user)
        uow.commit()
    with storage.unit_of_work() as uow:
        found = uow.users.get(user.id)
    assert found is not None
    assert found.created_at == paris
    assert found.created_at.tzinfo == UTC
    assert found.created_at.hour == 12


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(sqlite_storage: SqlAlchemyStorage) -> None:
    with sqlite_storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_second_sqlite_writer_waits_for_the_first_instead_of_failing(sqlite_storage: SqlAlchemyStorage) -> None:
    first_wrote, seen = threading.Event(), []

    def second_writer() -> None:
        first_wrote.wait(5)
        with sqlite_storage.unit_of_work() as uow:  # waits for the write lock
            seen.append(uow.users.get_by_email("first@example.com") is not None)
            uow.users.add(User(UserId(new_id()), "second@example.com", "hash", datetime.now(UTC)))
            uow.commit()

    thread = threading.Thread(target=second_writer)
    thread.start()
    with sqlite_storage.unit_of_work() as uow:
        uow.users.add(User(UserId(new_id()), "first@example.com", "hash", datetime.now(UTC)))
        first_wrote.set()
        time.sleep(0.3)  # the second writer is now queued on the lock
        uow.commit()
    thread.join(10)
    assert seen == [True]
    with sqlite_storage.unit_of_work() as uow:
        assert uow.users.get_by_email("second@example.com") is not None


def test_a_busy_database_or_a_serialization_failure_is_a_transient_error() -> None:
    class SerializationFailure(Exception):
        sqlstate = "40001"

    locked = sa.exc.OperationalError("UPDATE tickets", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: tickets"))
    serialization = sa.exc.OperationalError("UPDATE tickets", {}, SerializationFailure("could not serialize"))
    assert is_retryable(locked)
    assert is_retryable(serialization)
    assert not is_retryable(missing)
    with pytest.raises(TransientStorageError), translated_errors():
        raise locked
    with pytest.raises(sa.exc.OperationalError), translated_errors():
        raise missing


def test_a_unit_of_work_cannot_be_entered_twice(sqlite_storage: SqlAlchemyStorage) -> None:
    uow = sqlite_storage.unit_of_work()
    with uow, pytest.raises(RuntimeError, match="entered twice"):
        uow.__enter__()


@pytest.mark.postgres
def test_the_available_listing_walks_the_keyset_index_on_postgres(clean_postgres_url: str) -> None:
    engine = sa.create_engine(clean_postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(
                row[0]
                for row in conn.exec_driver_sql(
                    "EXPLAIN SELECT id FROM tickets WHERE (created_at, id) > ('2026-01-01', '') "
                    "ORDER BY created_at, id LIMIT 51"
                )
            )
    finally:
        engine.dispose()
    assert "ix_tickets_created" in plan


@pytest.mark.postgres
def test_a_connection_killed_by_the_server_is_a_transient_error_and_the_next_unit_works(
    clean_postgres_url: str,
) -> None:
    storage = SqlAlchemyStorage(clean_postgres_url)
    admin = sa.create_engine(clean_postgres_url, poolclass=sa.pool.NullPool)
    try:
        with pytest.raises(TransientStorageError), storage.unit_of_work() as uow:  # noqa: PT012
            uow.users.get(new_id())
            pid = uow._session.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()  # type: ignore[attr-defined]
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            uow.users.get(new_id())
        with storage.unit_of_work() as uow:
            assert uow.users.get(new_id()) is None
    finally:
        admin.dispose()
        storage.close()


def test_a_failing_insert_fails_the_unit_at_the_latest_on_commit_and_nothing_is_kept(
    storage: SqlAlchemyStorage,
) -> None:
    now = datetime.now(UTC)
    first = Message(new_id(), "order:created", "{}")
    again = Message(first.id, "order:created", "{}")  # the same event id twice

    def write_twice() -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(Message(new_id(), "ticket:created", "{}"), now)
            uow.outbox.add(first, now)
            uow.outbox.add(again, now)
            uow.commit()

    with pytest.raises(sa.exc.IntegrityError):
        write_twice()
    with storage.unit_of_work() as uow:
        assert uow.outbox.pending() == 0
        uow.outbox.add(first, now)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.outbox.pending() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(("fast_path", "through_sqlalchemy"), [(True, 0), (False, 5)], ids=["fast", "portable"])
def test_on_the_fast_path_a_reservation_sends_nothing_through_sqlalchemy(
    clean_postgres_url: str, fast_path: bool, through_sqlalchemy: int
) -> None:
    from eventhive_core.domain.ids import OrderId, TicketId
    from eventhive_core.domain.money import Money
    from eventhive_core.domain.order import Order, OrderStatus
    from eventhive_core.domain.ticket import Ticket

    storage = SqlAlchemyStorage(clean_postgres_url, fast_path=fast_path)
    now = datetime.now(UTC)
    seller = User(UserId(new_id()), "seller@example.com", "hash", now)
    # Room for two units in every stripe: the reservation takes one, not the margin's way.
    ticket = Ticket(TicketId(new_id()), "Gig", Money(1000), seller.id, now, capacity=2 * storage.stripes)
    with storage.unit_of_work() as uow:
        uow.users.add(seller)
        uow.tickets.add(ticket)
        uow.commit()
    sent: list[str] = []
    sa.event.listen(storage.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    try:
        # The statements of hive.handle(PlaceOrder(...)): buyer, ticket, reservation, order, event.
        with storage.unit_of_work() as uow:
            assert uow.users.get(seller.id) == seller
            assert uow.tickets.get(ticket.id) == ticket
            assert uow.tickets.reserve(ticket.id, 2, now)
            expires_at = now + timedelta(seconds=60)
            order = Order(
                OrderId(new_id()), ticket.id, seller.id, OrderStatus.CREATED, expires_at, now, Money(2000), quantity=2
            )
            uow.orders.add(order)
            uow.outbox.add(Message(id=new_id(), type="order:created", body="{}"), now)
            uow.commit()
        assert len(sent) == through_sqlalchemy, sent
        with storage.unit_of_work() as uow:
            assert uow.orders.get(order.id) == order
            assert uow.tickets.units(ticket.id, now).held == 2
    finally:
        storage.close()


def test_the_fast_path_is_refused_on_sqlite(sqlite_url: str) -> None:
    from eventhive_core.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        SqlAlchemyStorage(sqlite_url, fast_path=True)


def test_a_database_becomes_the_first_services_and_refuses_every_other_and_the_whole_platform(
    storage: SqlAlchemyStorage,
) -> None:
    from eventhive_core import RoleMismatch

    now = datetime.now(UTC)
    storage.claim_role(None, now)  # the whole platform leaves an unmarked database unmarked
    storage.claim_role("orders", now)
    storage.claim_role("orders", now)  # a restart of the same service
    with pytest.raises(RoleMismatch, match="belongs to the orders service, so the payments service") as refused:
        storage.claim_role("payments", now)
    assert (refused.value.owner, refused.value.role) == ("orders", "payments")
    with pytest.raises(RoleMismatch, match="so the whole platform will not start"):
        storage.claim_role(None, now)


def test_two_services_claiming_one_empty_database_at_once_leave_exactly_one_owner(storage: SqlAlchemyStorage) -> None:
    from eventhive_core import RoleMismatch

    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def claim(role: str) -> None:
        start.wait()
        try:
            storage.claim_role(role, datetime.now(UTC))
            outcomes[role] = "claimed"
        except RoleMismatch:
            outcomes[role] = "refused"

    threads = [threading.Thread(target=claim, args=(role,)) for role in ("orders", "payments")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["claimed", "refused"]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "portable"])
def test_a_ticket_committed_after_a_units_reservation_missed_it_stays_unknown_to_that_unit(
    clean_postgres_url: str, fast_path: bool
) -> None:
    # A split's orders service: an order for a ticket whose ticket:created is being applied at
    # that moment. Read committed lets a later statement of the order's unit see the replica the
    # reservation did not: the order must then be "not found" (the buyer tries again), never
    # "sold out" for a ticket with every unit free.
    from eventhive_core.domain.ids import TicketId
    from eventhive_core.domain.money import Money
    from eventhive_core.domain.ticket import Ticket

    storage = SqlAlchemyStorage(clean_postgres_url, fast_path=fast_path)
    now = datetime.now(UTC)
    seller = User(UserId(new_id()), "seller@example.com", "hash", now)
    ticket = Ticket(TicketId(new_id()), "Gig", Money(1000), seller.id, now, capacity=1_000)
    try:
        with storage.unit_of_work() as order_unit:
            assert not order_unit.tickets.reserve(ticket.id, 1, now)
            with storage.unit_of_work() as replica_unit:
                replica_unit.users.add(seller)
                replica_unit.tickets.add(ticket)
                replica_unit.commit()

            assert order_unit.tickets.get(ticket.id) is None
        with storage.unit_of_work() as next_unit:
            assert next_unit.tickets.reserve(ticket.id, 1, now)
            assert next_unit.tickets.get(ticket.id) == ticket
    finally:
        storage.close()


def test_a_reservation_that_lost_its_stripe_to_a_rival_is_retried_at_the_margin_which_cannot_lose_again(
    clean_postgres_url: str,
) -> None:
    # Ann holds the last unit, uncommitted; Bob's pick sees it free, waits for Ann's lock, and
    # finds it gone: his unit is retried whole. In a rush that retry could lose the same way
    # until the retries run out (a 409 for Bob); it goes to the margin instead, which locks
    # every stripe and gives the final answer.
    from eventhive_core.domain.ids import TicketId
    from eventhive_core.domain.money import Money
    from eventhive_core.domain.ticket import Ticket

    # The portable path, whose statements SQLAlchemy sees (the fast path takes the same steps).
    storage = SqlAlchemyStorage(clean_postgres_url, fast_path=False)
    now = datetime.now(UTC)
    seller = User(UserId(new_id()), "seller@example.com", "hash", now)
    ticket = Ticket(TicketId(new_id()), "Gig", Money(1000), seller.id, now, capacity=1)
    with storage.unit_of_work() as uow:
        uow.users.add(seller)
        uow.tickets.add(ticket)
        uow.commit()
    bob: dict[str, object] = {}
    sent: list[str] = []

    def bob_tries_twice() -> None:
        try:
            with storage.unit_of_work() as uow:
                uow.tickets.reserve(ticket.id, 1, now)
        except ConcurrencyConflict as exc:
            bob["first"] = exc
        sa.event.listen(storage.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
        with storage.unit_of_work() as uow:
            bob["second"] = uow.tickets.reserve(ticket.id, 1, now)

    try:
        with storage.unit_of_work() as ann:
            assert ann.tickets.reserve(ticket.id, 1, now)
            rival = threading.Thread(target=bob_tries_twice)
            rival.start()
            time.sleep(0.5)  # Bob's pick is waiting for Ann's lock
            ann.commit()
        rival.join(timeout=10)

        assert isinstance(bob.get("first"), ConcurrencyConflict)
        assert bob["second"] is False  # sold out: the final answer, not another conflict
        assert not any("pick" in statement for statement in sent), sent  # no second pick
        assert any("FOR UPDATE" in statement for statement in sent), sent
    finally:
        storage.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres-fast", marks=pytest.mark.postgres),
        pytest.param("postgres-portable", marks=pytest.mark.postgres),
    ]
)
def every_path(request: pytest.FixtureRequest) -> Iterator[SqlAlchemyStorage]:
    """SQLite, and PostgreSQL on the fast path and on the portable one."""
    if request.param == "sqlite":
        built = SqlAlchemyStorage(request.getfixturevalue("sqlite_url"))
    else:
        url = request.getfixturevalue("clean_postgres_url")
        built = SqlAlchemyStorage(url, fast_path=request.param == "postgres-fast")
    yield built
    built.close()


def test_a_tokens_standing_gives_its_revocation_and_its_user_whether_or_not_the_user_is_stored(
    every_path: SqlAlchemyStorage,
) -> None:
    storage = every_path
    now = datetime.now(UTC)
    ann = User(UserId(new_id()), "ann@example.com", "hash", now)
    bob = User(UserId(new_id()), "bob@example.com", "hash", now, banned_at=now)
    with storage.unit_of_work() as uow:
        uow.users.add(ann)
        uow.users.add(bob)
        uow.revoked_tokens.revoke("signed-out", now + timedelta(hours=1))
        uow.commit()

    assert storage.token_standing("signed-out", ann.id) == TokenStanding(ann, revoked=True)
    assert storage.token_standing("fresh", ann.id) == TokenStanding(ann, revoked=False)
    assert storage.token_standing("fresh", bob.id) == TokenStanding(bob, revoked=False)
    assert storage.token_standing("signed-out", new_id()) == TokenStanding(None, revoked=True)
    assert storage.token_standing("fresh", new_id()) == TokenStanding(None, revoked=False)


def test_a_tokens_standing_leaves_the_pooled_connection_transactional_for_the_next_unit(
    every_path: SqlAlchemyStorage,
) -> None:
    storage = every_path
    # On PostgreSQL the lookup runs in autocommit: the connection must go back to the pool without it.
    storage.token_standing("any", new_id())
    with storage.unit_of_work() as uow:
        uow.users.add(User(UserId(new_id()), "kept@example.com", "hash", datetime.now(UTC)))
        # no commit: the unit rolls back on exit

    assert storage.token_standing("any", new_id()).user is None
    with storage.unit_of_work() as uow:
        assert uow.users.get_by_email("kept@example.com") is None


def test_a_tokens_standing_on_sqlite_does_not_wait_for_a_writer_holding_the_lock(
    sqlite_storage: SqlAlchemyStorage,
) -> None:
    user = User(UserId(new_id()), "ann@example.com", "hash", datetime.now(UTC))
    with sqlite_storage.unit_of_work() as uow:
        uow.users.add(user)
        uow.commit()
    answered = threading.Event()
    standings: list[TokenStanding] = []
    lock_held = [True]
    answered_while_locked: list[bool] = []

    def read() -> None:
        standings.append(sqlite_storage.token_standing("any", user.id))
        answered_while_locked.append(lock_held[0])
        answered.set()

    with sqlite_storage.unit_of_work() as writer:
        writer.users.add(User(UserId(new_id()), "writer@example.com", "hash", datetime.now(UTC)))  # takes the lock
        reader = threading.Thread(target=read)
        reader.start()
        # A write unit would queue behind this writer (5 s busy timeout); the read answers now.
        answered.wait(4)
        lock_held[0] = False
    reader.join(10)

    assert standings == [TokenStanding(user, revoked=False)]
    assert answered_while_locked == [True]


@pytest.mark.postgres
def test_a_tokens_standing_on_a_connection_the_server_killed_is_transient_and_the_next_one_answers(
    clean_postgres_url: str,
) -> None:
    storage = SqlAlchemyStorage(clean_postgres_url, engine_options={"pool_size": 1, "max_overflow": 0})
    admin = sa.create_engine(clean_postgres_url, poolclass=sa.pool.NullPool)
    try:
        storage.token_standing("any", new_id())  # the pool's one connection, now idle in it
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with pytest.raises(TransientStorageError):
            storage.token_standing("any", new_id())

        assert storage.token_standing("any", new_id()) == TokenStanding(None, revoked=False)
    finally:
        admin.dispose()
        storage.close()
