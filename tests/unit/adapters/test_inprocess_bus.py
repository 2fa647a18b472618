from __future__ import annotations

import logging
import threading

import pytest

from eventhive_core.adapters.inprocess_bus import BusClosed, DeliveryFailed, InProcessBus
from eventhive_core.ports.event_bus import Delivery, EventBus
from eventhive_core.ports.messages import Message

CREATED = Message(id="evt-1", type="order:created", body='{"id": "evt-1"}')
CANCELLED = Message(id="evt-2", type="order:cancelled", body='{"id": "evt-2"}')


def recorder(log: list[tuple[str, str]], name: str) -> Delivery:
    def deliver(message: Message) -> None:
        log.append((name, message.id))

    return deliver


def failing(log: list[tuple[str, str]], name: str, error: Exception) -> Delivery:
    def deliver(message: Message) -> None:
        log.append((name, message.id))
        raise error

    return deliver


def test_the_in_process_bus_satisfies_the_port() -> None:
    bus: EventBus = InProcessBus()

    bus.start()
    bus.publish(CREATED)  # no subscribers: nothing to do, nothing fails
    bus.close()


def test_subscribers_get_the_message_in_registration_order() -> None:
    bus, log = InProcessBus(), []
    bus.subscribe("schedule_expiry", "order:created", "expiration", recorder(log, "schedule_expiry"))
    bus.subscribe("audit", "order:created", "orders", recorder(log, "audit"))
    bus.subscribe("notify", "order:created", "orders", recorder(log, "notify"))

    bus.publish(CREATED)

    assert log == [("schedule_expiry", "evt-1"), ("audit", "evt-1"), ("notify", "evt-1")]


def test_only_subscribers_of_the_message_type_are_called() -> None:
    bus, log = InProcessBus(), []
    bus.subscribe("on_created", "order:created", "orders", recorder(log, "on_created"))
    bus.subscribe("on_cancelled", "order:cancelled", "payments", recorder(log, "on_cancelled"))

    bus.publish(CANCELLED)

    assert log == [("on_cancelled", "evt-2")]


def test_subscribers_receive_the_message_unchanged() -> None:
    bus, received = InProcessBus(), []
    bus.subscribe("keep", "order:created", "orders", received.append)

    bus.publish(CREATED)

    assert received == [CREATED]


def test_failures_are_aggregated_after_every_subscriber_was_called(caplog: pytest.LogCaptureFixture) -> None:
    bus, log = InProcessBus(), []
    boom, bang = RuntimeError("boom"), ValueError("bang")
    bus.subscribe("first", "order:created", "orders", failing(log, "first", boom))
    bus.subscribe("second", "order:created", "orders", recorder(log, "second"))
    bus.subscribe("third", "order:created", "payments", failing(log, "third", bang))
    bus.subscribe("fourth", "order:created", "auth", recorder(log, "fourth"))

    with caplog.at_level(logging.WARNING), pytest.raises(DeliveryFailed) as caught:
        bus.publish(CREATED)

    assert [name for name, _ in log] == ["first", "second", "third", "fourth"]
    assert caught.value.failed == ("first", "third")
    assert dict(caught.value.errors) == {"first": boom, "third": bang}
    assert caught.value.message is CREATED
    assert "first" in str(caught.value)
    assert "third" in str(caught.value)
    assert "evt-1" in str(caught.value)
    assert "second" not in str(caught.value)
    assert sum("evt-1" in r.getMessage() for r in caplog.records) == 2


def test_publishing_again_redelivers_to_every_subscriber() -> None:
    # The bus does not remember successes; subscribers drop duplicates by message id.
    bus, log = InProcessBus(), []
    attempts = {"n": 0}

    def flaky(message: Message) -> None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise ConnectionError("database blip")
        log.append(("flaky", message.id))

    bus.subscribe("steady", "order:created", "orders", recorder(log, "steady"))
    bus.subscribe("flaky", "order:created", "orders", flaky)

    with pytest.raises(DeliveryFailed):
        bus.publish(CREATED)
    bus.publish(CREATED)

    assert log == [("steady", "evt-1"), ("steady", "evt-1"), ("flaky", "evt-1")]


def test_a_duplicate_subscriber_name_is_refused_even_for_another_type() -> None:
    bus, log = InProcessBus(), []
    bus.subscribe("schedule_expiry", "order:created", "expiration", recorder(log, "a"))

    with pytest.raises(ValueError, match="schedule_expiry"):
        bus.subscribe("schedule_expiry", "order:created", "expiration", recorder(log, "b"))
    with pytest.raises(ValueError, match="already registered"):
        bus.subscribe("schedule_expiry", "order:cancelled", "orders", recorder(log, "c"))

    bus.publish(CREATED)
    bus.publish(CANCELLED)
    assert log == [("a", "evt-1")]
    assert [s.name for s in bus.subscriptions] == ["schedule_expiry"]


def test_a_subscriber_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        InProcessBus().subscribe("", "order:created", "orders", lambda m: None)


def test_a_closed_bus_refuses_to_publish_with_a_clear_error() -> None:
    bus, log = InProcessBus(), []
    bus.subscribe("audit", "order:created", "orders", recorder(log, "audit"))
    bus.close()
    bus.close()  # idempotent

    with pytest.raises(BusClosed, match="closed"):
        bus.publish(CREATED)
    with pytest.raises(BusClosed):
        bus.subscribe("late", "order:created", "orders", recorder(log, "late"))
    assert log == []


def test_a_subscriber_added_while_others_publish_is_safe() -> None:
    bus = InProcessBus()
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def counter(name: str) -> Delivery:
        def deliver(message: Message) -> None:
            with lock:
                counts[name] = counts.get(name, 0) + 1

        return deliver

    bus.subscribe("s0", "order:created", "orders", counter("s0"))
    stop = threading.Event()

    def publisher() -> None:
        while not stop.is_set():
            bus.publish(CREATED)

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        for i in range(1, 50):
            bus.subscribe(f"s{i}", "order:created", "orders", counter(f"s{i}"))
    finally:
        stop.set()
        thread.join(timeout=5)

    bus.publish(CREATED)
    assert set(counts) == {f"s{i}" for i in range(50)}
    assert counts["s0"] >= counts["s49"]


class BatchRecorder:
    """A batch-taking delivery: records each batch it is handed, fails the ids it is told to."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.fail = fail

    def __call__(self, message: Message) -> None:
        self.singles.append(message.id)

    def deliver_many(self, messages: list[Message]) -> list[Exception | None]:
        self.batches.append([m.id for m in messages])
        return [RuntimeError(f"no {m.id}") if m.id in self.fail else None for m in messages]


def created(n: int) -> Message:
    return Message(id=f"c-{n}", type="order:created", body="{}")


def test_a_published_batch_reaches_a_batch_taking_subscriber_once_with_its_messages_in_order() -> None:
    bus, log = InProcessBus(), []
    batches = BatchRecorder()
    bus.subscribe("batches", "order:created", "expiration", batches)
    bus.subscribe("single", "order:created", "orders", recorder(log, "single"))
    bus.subscribe("cancels", "order:cancelled", "orders", recorder(log, "cancels"))
    messages = [created(1), CANCELLED, created(2), created(3)]

    assert bus.publish_all(messages) == [None, None, None, None]

    assert batches.batches == [["c-1", "c-2", "c-3"]]
    assert batches.singles == []
    # A plain callback still gets one call per message of its type, in order.
    assert log == [("single", "c-1"), ("single", "c-2"), ("single", "c-3"), ("cancels", "evt-2")]


def test_a_batch_fails_only_the_messages_a_subscriber_failed_on_naming_that_subscriber(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, log = InProcessBus(), []
    bus.subscribe("batches", "order:created", "expiration", BatchRecorder(fail=frozenset({"c-2"})))
    bus.subscribe("single", "order:created", "orders", recorder(log, "single"))

    with caplog.at_level(logging.WARNING):
        outcomes = bus.publish_all([created(1), created(2), created(3)])

    assert outcomes[0] is None
    assert outcomes[2] is None
    failed = outcomes[1]
    assert isinstance(failed, DeliveryFailed)
    assert failed.failed == ("batches",)
    assert failed.message.id == "c-2"
    # The other subscriber still got every message, the failed one included.
    assert log == [("single", "c-1"), ("single", "c-2"), ("single", "c-3")]
    assert sum("c-2" in r.getMessage() for r in caplog.records) == 1


def test_a_batch_subscriber_answering_for_another_number_of_messages_is_an_error() -> None:
    class Short(BatchRecorder):
        def deliver_many(self, messages: list[Message]) -> list[Exception | None]:
            return []

    bus = InProcessBus()
    bus.subscribe("short", "order:created", "orders", Short())

    with pytest.raises(ValueError, match="answered for 0 of 2"):
        bus.publish_all([created(1), created(2)])


def test_a_closed_bus_refuses_a_batch() -> None:
    bus = InProcessBus()
    bus.close()

    with pytest.raises(BusClosed):
        bus.publish_all([created(1)])
