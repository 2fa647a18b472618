"""A subscriber handed a batch (the in-process bus's, from one outbox batch) handles it in one unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from eventhive_core import CreateTicket, Hive, PlaceOrder, SignUp, hookimpl
from eventhive_core.contracts.codec import parse_message, to_message
from eventhive_core.contracts.envelope import Envelope
from eventhive_core.domain.events import OrderCreated
from eventhive_core.observability import metrics
from eventhive_core.ports.event_bus import BatchDelivery, Subscription
from eventhive_core.ports.messages import Message
from eventhive_core.ports.storage import Storage, UnitOfWork
from eventhive_core.service_layer.expiry import SCHEDULE_EXPIRY
from eventhive_core.service_layer.messagebus import SubscriberHandler, make_delivery, on_event
from eventhive_core.service_layer.services import Services
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive

from .conftest import ON_POSTGRES
from .test_reactions import CREATED, NOON, envelope_of


class CountingStorage:
    """A storage whose units of work and commits are counted (everything else is the wrapped one's)."""

    def __init__(self, inner: Storage) -> None:
        self._inner = inner
        self.units = 0
        self.commits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        self.units += 1
        with self._inner.unit_of_work() as uow:
            commit = uow.commit

            def counted_commit() -> None:
                commit()
                self.commits += 1

            uow.commit = counted_commit  # type: ignore[method-assign]
            yield uow


def order_message(n: int) -> Message:
    return to_message(envelope_of(replace(CREATED, id=f"0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8{n:03d}")))


def duplicates_counted() -> float:
    labels = {"subscriber": "test.batches", "subject": "order:created", "outcome": "duplicate"}
    return metrics.EVENTS_CONSUMED.labels(**labels)._value.get()


@pytest.fixture
def counting(hive: Hive) -> tuple[Services, CountingStorage]:
    storage = CountingStorage(hive.services.storage)
    return replace(hive.services, storage=storage), storage  # type: ignore[arg-type]


def subscriber(seen: list[str], fail_on: set[str] | None = None) -> Subscription[SubscriberHandler]:
    """A subscriber noting the id of each event it handles (its message's id)."""

    def react(envelope: Envelope, uow: UnitOfWork) -> None:
        if fail_on and envelope.id in fail_on:
            raise RuntimeError(f"cannot take {envelope.id}")
        seen.append(envelope.id)

    return Subscription("test.batches", OrderCreated.type, "orders", react)


def test_a_batch_is_recorded_and_handled_in_one_unit_of_work(counting: tuple[Services, CountingStorage]) -> None:
    services, storage = counting
    seen: list[str] = []
    deliver = make_delivery(subscriber(seen), services)
    messages = [order_message(n) for n in range(5)]

    assert isinstance(deliver, BatchDelivery)
    assert deliver.deliver_many(messages) == [None] * 5

    assert seen == [m.id for m in messages]
    assert (storage.units, storage.commits) == (1, 1)


def test_a_batch_drops_the_events_already_processed_and_handles_the_rest(
    counting: tuple[Services, CountingStorage],
) -> None:
    services, _ = counting
    seen: list[str] = []
    deliver = make_delivery(subscriber(seen), services)
    messages = [order_message(n) for n in range(3)]
    deliver(messages[1])  # delivered once already, on its own
    before = duplicates_counted()

    assert deliver.deliver_many([*messages, messages[0]]) == [None] * 4

    assert seen == [messages[1].id, messages[0].id, messages[2].id]
    assert duplicates_counted() - before == 2  # messages[1], and messages[0] given twice


def test_one_failing_event_fails_alone_and_the_rest_of_its_batch_is_kept(
    counting: tuple[Services, CountingStorage],
) -> None:
    services, storage = counting
    messages = [order_message(n) for n in range(4)]
    seen: list[str] = []
    deliver = make_delivery(subscriber(seen, fail_on={messages[2].id}), services)

    outcomes = deliver.deliver_many(messages)

    assert [outcome is None for outcome in outcomes] == [True, True, False, True]
    assert "cannot take" in str(outcomes[2])
    # The batch's unit rolled back, then each went on its own: the failed one is not recorded.
    assert seen[-3:] == [messages[0].id, messages[1].id, messages[3].id]
    with storage.unit_of_work() as uow:
        assert uow.processed.add("test.batches", messages[2].id, NOON) is True
        assert uow.processed.add("test.batches", messages[0].id, NOON) is False


def test_a_malformed_message_in_a_batch_fails_alone(counting: tuple[Services, CountingStorage]) -> None:
    services, _ = counting
    seen: list[str] = []
    deliver = make_delivery(subscriber(seen), services)
    good = order_message(1)
    bad = Message(id="not-an-envelope", type="order:created", body="{")

    outcomes = deliver.deliver_many([bad, good])

    assert outcomes[0] is not None
    assert outcomes[1] is None
    assert seen == [good.id]


def test_a_storage_without_batches_gets_each_event_in_its_own_unit(
    counting: tuple[Services, CountingStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, storage = counting
    from eventhive_core.adapters import memory

    monkeypatch.delattr(memory._Processed, "add_many")
    seen: list[str] = []
    deliver = make_delivery(subscriber(seen), services)
    messages = [order_message(n) for n in range(3)]

    assert deliver.deliver_many(messages) == [None] * 3

    assert seen == [m.id for m in messages]
    assert storage.commits == 3


def count_units_of_work(storage: Any) -> list[None]:
    """Make ``storage`` note each unit of work it opens from now on (the list grows by one each)."""
    opened: list[None] = []
    real = storage.unit_of_work

    def unit_of_work() -> Any:
        opened.append(None)
        return real()

    storage.unit_of_work = unit_of_work
    return opened


class OrderLog:
    """A plugin subscriber noting the order ids it is told of."""

    def __init__(self) -> None:
        self.orders: list[str] = []

    @hookimpl
    def eventhive_register_subscribers(self, register: Any) -> None:
        def note(envelope: Envelope, uow: UnitOfWork) -> None:
            self.orders.append(envelope.data["id"])

        register("test.order_log", "order:created", "orders", note)


@pytest.mark.parametrize("database", ["memory", "sqlite", ON_POSTGRES])
def test_the_relay_delivers_a_batch_of_orders_to_each_subscriber_in_one_unit_of_work(
    database: str, request: pytest.FixtureRequest
) -> None:
    on: dict[str, Any] = {}
    if database != "memory":
        url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "clean_postgres_url")
        on = {"storage": "sqlalchemy", "database_url": url}
    log = OrderLog()
    with make_test_hive(FrozenClock(), plugins=(log,), outbox_batch_size=50, **on) as hive:
        seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
        buyer = hive.handle(SignUp(email="buyer@example.com", password="password")).user.id
        ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10", capacity=100)).id
        hive.relay_outbox()
        orders = [hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket)).id for _ in range(12)]
        storage = hive.services.storage
        units = count_units_of_work(storage)
        subscribers = [s for s in hive.bus.subscriptions if s.event_type == "order:created"]
        # Scheduling expiry needs no storage (see its own test below): it opens no unit.
        storing = [s for s in subscribers if s.name != SCHEDULE_EXPIRY]
        assert len(storing) == len(subscribers) - 1

        assert hive.relay_outbox() == 12

        assert log.orders == orders
        # One claim, one unit per subscriber of order:created that needs storage, one marking them
        # sent: not one per order.
        assert len(units) == 2 + len(storing)
        assert hive.relay_outbox() == 0
        assert log.orders == orders  # nothing twice


def test_a_subscriber_needing_no_storage_reacts_to_every_delivery_without_a_unit_of_work(
    counting: tuple[Services, CountingStorage],
) -> None:
    services, storage = counting
    seen: list[str] = []
    timers = on_event("test.timers", "expiration", OrderCreated, lambda e, uow: seen.append(e.id), needs_storage=False)
    delivery = make_delivery(timers, services)
    first, second = order_message(1), order_message(2)

    delivery(first)
    delivery(first)  # a duplicate reacts again: harmless, by the subscriber's own account
    assert isinstance(delivery, BatchDelivery)
    assert delivery.deliver_many([first, second]) == [None, None]

    assert seen == [parse_message(m).data["id"] for m in (first, first, first, second)]
    assert storage.units == 0
    with services.storage.unit_of_work() as uow:
        assert uow.processed.add("test.timers", first.id, services.clock.now())  # never recorded before


def test_a_subscriber_needing_no_storage_that_touches_its_unit_of_work_fails_loudly(
    counting: tuple[Services, CountingStorage],
) -> None:
    services, _ = counting
    bad = on_event("test.bad", "orders", OrderCreated, lambda event, uow: uow.orders, needs_storage=False)

    with pytest.raises(RuntimeError, match="needs_storage=False"):
        make_delivery(bad, services)(order_message(1))
