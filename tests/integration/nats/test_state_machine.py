"""Two Hives on separate databases joined only by the nats bus: B's replica of A's orders stays true.

Hive A places, cancels, pays and refunds orders on its own SQLite file; its relay publishes to
JetStream (a stream of each example's own). Hive B, on another SQLite file, runs the durable
consumer of role ``replica`` in the background: its subscriber keeps a projection of every order
(status and version) in a table of B's database, written in the delivery's own transaction,
and applies an event only when it is newer than what it holds. Random interleavings of
commands, relay steps and B's bus closing and reopening mid-stream (its unacknowledged
messages are delivered again) must keep:

- no event applied twice (B records each application; an event id appears once);
- a replica version never goes down;
- once A's outbox is relayed and B caught up: every order event A published was applied, and
  B's replica says what A's orders say (status; the version of a cancellation; never a
  version above A's).

``EVENTHIVE_NATS_STATE_MACHINE_EXAMPLES`` (default 5) sets how many interleavings run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from eventhive_core import (
    CancelOrder,
    CreateTicket,
    EventHiveError,
    Hive,
    OrderStatus,
    PayOrder,
    PlaceOrder,
    RefundOrder,
    SignUp,
    hookimpl,
)

from .conftest import _delete_stream as delete_stream
from .conftest import run
from .helpers import nats_hive

EXAMPLES = int(os.environ.get("EVENTHIVE_NATS_STATE_MACHINE_EXAMPLES", "5"))
ROLE = "replica"
ORDER_EVENTS = ("order:created", "order:cancelled", "payment:created")
QUIET_TIMEOUT = 30.0

REPLICA_DDL = (
    "CREATE TABLE replica_orders (id TEXT PRIMARY KEY, version INTEGER NOT NULL, cancelled INTEGER NOT NULL,"
    " paid INTEGER NOT NULL)",
    # No unique key on purpose: an event applied twice must show, not fail.
    "CREATE TABLE replica_applied (event_id TEXT NOT NULL, order_id TEXT NOT NULL)",
)


class Replica:
    """B's subscribers: a projection of A's orders, applied only when newer, in the delivery's transaction.

    The version of an order is the one its newest ``order:*`` event carries; ``payment:created``
    carries none and only marks the order paid, so the projection is the same whatever order
    redeliveries bring the events in.
    """

    @hookimpl
    def eventhive_register_subscribers(self, register: Any) -> None:
        for event_type in ORDER_EVENTS:
            register(f"tests.replica.{event_type}", event_type, ROLE, self.apply)

    def apply(self, envelope: Any, uow: Any) -> None:
        # The storage port has no room for a plugin's own table: the test writes through the unit
        # of work's connection so the projection commits (or not) with the processed id.
        conn = uow._session.conn
        data = envelope.data
        order_id = data["order_id"] if envelope.type == "payment:created" else data["id"]
        row = conn.execute(
            sa.text("SELECT version, cancelled, paid FROM replica_orders WHERE id = :id"), {"id": order_id}
        ).first()
        version, cancelled, paid = (row.version, row.cancelled, row.paid) if row is not None else (-1, 0, 0)
        if envelope.type == "payment:created":
            paid = 1
        elif data["version"] > version:  # applied only when newer
            version = data["version"]
            cancelled = int(envelope.type == "order:cancelled")
        values = {"id": order_id, "version": version, "cancelled": cancelled, "paid": paid}
        if row is None:
            conn.execute(sa.text("INSERT INTO replica_orders VALUES (:id, :version, :cancelled, :paid)"), values)
        else:
            conn.execute(
                sa.text(
                    "UPDATE replica_orders SET version = :version, cancelled = :cancelled, paid = :paid WHERE id = :id"
                ),
                values,
            )
        conn.execute(
            sa.text("INSERT INTO replica_applied VALUES (:event_id, :order_id)"),
            {"event_id": str(envelope.id), "order_id": order_id},
        )


class TwoHives(RuleBasedStateMachine):
    """A's commands, A's relay and B's bus restarts in random order; B's replica checked against A."""

    orders = Bundle("orders")

    def __init__(self, new_database: Callable[[str], str], nats_url: str, new_prefix: Callable[[], str]) -> None:
        super().__init__()
        self.nats_url = nats_url
        self.prefix = new_prefix()
        self.a_url = new_database("a")
        self.a = nats_hive(self.a_url, nats_url, self.prefix, reservation_ttl=3600)
        self.b_url = new_database("b")
        engine = sa.create_engine(self.b_url)
        with engine.begin() as conn:
            for statement in REPLICA_DDL:
                conn.exec_driver_sql(statement)
        engine.dispose()
        self.b = self._open_b()
        self.seller = self.a.handle(SignUp(email="seller@example.com", password="password")).user.id
        self.buyers = [self.a.handle(SignUp(email=f"b{i}@example.com", password="password")).user.id for i in range(2)]
        self.tickets = [
            self.a.handle(CreateTicket(owner_id=self.seller, title=f"T{c}", price=10, capacity=c)).id for c in (2, 5)
        ]
        self.placed: list[str] = []
        self.seen_versions: dict[str, int] = {}

    def _open_b(self) -> Hive:
        hive = nats_hive(self.b_url, self.nats_url, self.prefix, Replica(), nats_roles=(ROLE,))
        hive.start(background=False)  # B's consumer only, in the background of this process
        return hive

    # --- A's commands -------------------------------------------------------------------------

    @rule(target=orders, buyer=st.integers(0, 1), ticket=st.integers(0, 1), quantity=st.integers(1, 2))
    def place(self, buyer: int, ticket: int, quantity: int) -> str:
        command = PlaceOrder(buyer_id=self.buyers[buyer], ticket_id=self.tickets[ticket], quantity=quantity)
        try:
            order_id = self.a.handle(command).id
        except EventHiveError:  # sold out
            return "missing"
        self.placed.append(order_id)
        return order_id

    @rule(order=orders)
    def cancel(self, order: str) -> None:
        with self.a.uow() as uow:
            found = uow.orders.get(order)
        if found is not None:
            with contextlib.suppress(EventHiveError):  # complete or already cancelled
                self.a.handle(CancelOrder(order_id=order, actor_id=found.buyer_id))

    @rule(order=orders, token=st.sampled_from(["tok_visa", "tok_chargeDeclined"]))
    def pay(self, order: str, token: str) -> None:
        with self.a.uow() as uow:
            found = uow.orders.get(order)
        if found is not None:
            with contextlib.suppress(EventHiveError):  # cancelled, complete or declined
                self.a.handle(PayOrder(order_id=order, actor_id=found.buyer_id, token=token))

    @rule(order=orders)
    def refund(self, order: str) -> None:
        with contextlib.suppress(EventHiveError):  # not complete
            self.a.handle(RefundOrder(order_id=order, actor_id=self.seller))

    # --- the bus ------------------------------------------------------------------------------

    @rule(limit=st.integers(1, 5))
    def relay_some(self, limit: int) -> None:
        self.a.relay_once(limit)

    @rule()
    def b_closes_and_reopens_mid_stream(self) -> None:
        """B's process stops (its batch in hand is given back) and starts again on its durable consumer."""
        self.a.relay_outbox()
        self.b.close()
        self.b = self._open_b()

    @rule()
    def b_catches_up(self) -> None:
        self._quiesce_and_compare()

    # --- invariants ---------------------------------------------------------------------------

    def _replica(self) -> dict[str, tuple[int, bool, bool]]:
        with self.b.uow() as uow:
            rows = uow._session.conn.execute(sa.text("SELECT id, version, cancelled, paid FROM replica_orders"))  # type: ignore[attr-defined]
            return {row.id: (row.version, bool(row.cancelled), bool(row.paid)) for row in rows}

    def _applied(self) -> list[str]:
        with self.b.uow() as uow:
            rows = uow._session.conn.execute(sa.text("SELECT event_id FROM replica_applied"))  # type: ignore[attr-defined]
            return [row.event_id for row in rows]

    @invariant()
    def no_event_is_applied_twice(self) -> None:
        applied = self._applied()
        assert len(applied) == len(set(applied))

    @invariant()
    def replica_versions_only_go_up(self) -> None:
        for order_id, (version, _, _) in self._replica().items():
            assert version >= self.seen_versions.get(order_id, -1), order_id
            self.seen_versions[order_id] = version

    def _published(self) -> set[str]:
        engine = sa.create_engine(self.a_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT id FROM outbox WHERE sent_at IS NOT NULL AND type IN :types").bindparams(
                        sa.bindparam("types", expanding=True)
                    ),
                    {"types": list(ORDER_EVENTS)},
                )
                return {row.id for row in rows}
        finally:
            engine.dispose()

    def _quiesce_and_compare(self) -> None:
        self.a.relay_outbox()
        published = self._published()
        deadline = time.monotonic() + QUIET_TIMEOUT
        while not published <= set(self._applied()):
            assert time.monotonic() < deadline, f"B never applied {sorted(published - set(self._applied()))}"
            time.sleep(0.02)
        replica = self._replica()
        with self.a.uow() as uow:
            orders = {order_id: uow.orders.get(order_id) for order_id in self.placed}
        assert set(replica) == set(orders)
        for order_id, order in orders.items():
            assert order is not None
            version, cancelled, paid = replica[order_id]
            status = OrderStatus.CANCELLED if cancelled else OrderStatus.COMPLETE if paid else OrderStatus.CREATED
            expected = OrderStatus.CREATED if order.status is OrderStatus.AWAITING_PAYMENT else order.status
            assert status is expected, order_id
            assert version <= order.version
            if order.status is OrderStatus.CANCELLED:
                assert version == order.version  # the cancellation carries the final version

    def teardown(self) -> None:
        try:
            self._quiesce_and_compare()
        finally:
            self.b.close()
            self.a.close()
            run(delete_stream(self.nats_url, self.prefix.upper()))


@pytest.fixture
def new_database(_sqlite_template: Path, tmp_path: Path) -> Callable[[str], str]:
    """Return ``new(name)``: a fresh migrated SQLite file for one side of one example."""
    counter = iter(range(1_000_000))

    def new(name: str) -> str:
        path = tmp_path / f"{name}{next(counter)}.sqlite3"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"

    return new


def test_a_replica_on_another_database_fed_only_by_the_nats_bus_ends_equal_to_the_orders_applying_each_event_once(
    new_database: Callable[[str], str], nats_url: str, nats_prefix: str
) -> None:
    counter = iter(range(1_000_000))
    lock = threading.Lock()

    def new_prefix() -> str:
        with lock:
            return f"{nats_prefix}_{next(counter)}"

    run_state_machine_as_test(
        lambda: TwoHives(new_database, nats_url, new_prefix),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
