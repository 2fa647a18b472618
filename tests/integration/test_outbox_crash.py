"""Crashes around the outbox: a committed change is always published, a rolled-back one never."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from eventhive_core import CreateTicket, Hive, PlaceOrder, SignUp, hookimpl
from eventhive_core.clock import SystemClock
from eventhive_core.domain.ids import new_id
from eventhive_core.ports.messages import Message
from eventhive_core.service_layer.relay import LEASE
from eventhive_core.testing.fakes import FrozenClock, RecordingBus
from eventhive_core.testing.hives import make_test_hive

from .conftest import Worker


class SimulatedCrash(BaseException):
    """Stands for the process dying: no ``except Exception`` may swallow it."""


class CrashAfterPublishing(RecordingBus):
    """A bus whose process dies right after the broker accepted the first ``order:created``."""

    crashed = False

    def publish(self, message: Message) -> None:
        super().publish(message)
        if message.type == "order:created" and not self.crashed:
            self.crashed = True
            raise SimulatedCrash


class CountingSubscriber:
    """A plugin whose subscriber counts how often it handled each ``order:created``."""

    def __init__(self) -> None:
        self.handled: Counter[str] = Counter()

    @hookimpl
    def eventhive_register_subscribers(self, register: Any) -> None:
        register("tests.count_orders", "order:created", "orders", self.handle)

    def handle(self, envelope: Any, uow: Any) -> None:
        self.handled[str(envelope.id)] += 1


def sign_up(hive: Hive, name: str) -> str:
    return hive.handle(SignUp(email=f"{name}@example.com", password="password")).user.id


def kill(worker: Worker) -> None:
    os.kill(worker.pid, signal.SIGKILL)
    worker.process.wait(10)
    assert worker.process.returncode == -signal.SIGKILL


def order_ids(messages: list[Message]) -> list[str]:
    return [json.loads(m.body)["data"]["id"] for m in messages if m.type == "order:created"]


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def hive(database_url: str, bus: RecordingBus) -> Iterator[Hive]:
    with make_test_hive(SystemClock(), storage="sqlalchemy", database_url=database_url, event_bus=bus) as built:
        yield built


def test_an_order_committed_by_a_process_killed_before_its_relay_ran_is_still_published_once(
    hive: Hive, bus: RecordingBus, database_url: str
) -> None:
    seller, buyer = sign_up(hive, "seller"), sign_up(hive, "buyer")
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=3))
    worker = Worker(database_url, ttl=60)
    try:
        assert "ready" in worker.receive()
        worker.send(op="place_then_hang", ticket=ticket.id, buyer=buyer)
        [placed] = worker.receive()["placed"]  # committed; the worker's relay never runs
    finally:
        kill(worker)
    assert order_ids(bus.published) == []
    hive.relay_outbox()
    assert order_ids(bus.published) == [placed["id"]]
    hive.relay_outbox()
    assert order_ids(bus.published) == [placed["id"]]
    with hive.uow() as uow:
        assert uow.outbox.pending() == 0


def test_a_process_killed_inside_its_unit_of_work_publishes_nothing(
    hive: Hive, bus: RecordingBus, database_url: str
) -> None:
    message_id = new_id()
    worker = Worker(database_url, ttl=60)
    try:
        assert "ready" in worker.receive()
        worker.send(op="hang_in_unit", message_id=message_id)
        assert worker.receive() == {"in_unit": True}
    finally:
        kill(worker)
    hive.relay_outbox()
    assert message_id not in [m.id for m in bus.published]
    with hive.uow() as uow:
        assert uow.outbox.pending() == 0


def test_a_rolled_back_command_publishes_nothing(hive: Hive, bus: RecordingBus) -> None:
    seller, buyer = sign_up(hive, "seller"), sign_up(hive, "buyer")
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=1))
    hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    with hive.uow() as uow:
        before = uow.outbox.pending()
    with pytest.raises(Exception, match="already reserved"):
        hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
    with hive.uow() as uow:
        assert uow.outbox.pending() == before
    hive.relay_outbox()
    assert len(order_ids(bus.published)) == 1


def test_a_relay_that_dies_after_publishing_publishes_the_same_event_again_and_consumers_drop_it(
    database_url: str,
) -> None:
    clock, bus, counting = FrozenClock(), CrashAfterPublishing(), CountingSubscriber()
    with make_test_hive(
        clock, plugins=(counting,), storage="sqlalchemy", database_url=database_url, event_bus=bus
    ) as hive:
        seller, buyer = sign_up(hive, "seller"), sign_up(hive, "buyer")
        ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=1))
        order = hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))
        with pytest.raises(SimulatedCrash):
            hive.relay_outbox()
        assert order_ids(bus.published) == [order.id]
        [created] = bus.of_type("order:created")
        hive.relay_outbox()
        assert bus.of_type("order:created") == [created]  # still claimed by the dead relay
        clock.advance(LEASE + timedelta(seconds=1))  # its claim runs out
        hive.relay_outbox()
        assert bus.of_type("order:created") == [created, created]  # the same event, with the same id
        bus.deliver_pending()
        assert counting.handled == {created.id: 1}  # delivered twice, handled once
