"""The nats bus in one process, on the machine's JetStream: delivery, redelivery, dead letters, replay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from eventhive_core import CreateTicket, Hive, SignUp
from eventhive_core.adapters.nats import NatsBus, PublishFailed
from eventhive_core.adapters.nats.subjects import consumer_name
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.ports.messages import Message

from .conftest import run, stored, wait_until
from .helpers import Recorder, nats_hive


@pytest.fixture
def publisher(sqlite_url: str, nats_url: str, nats_prefix: str) -> Iterator[Hive]:
    """A Hive that only publishes (never started), like a web process."""
    with nats_hive(sqlite_url, nats_url, nats_prefix) as hive:
        yield hive


def list_tickets(hive: Hive, count: int) -> list[str]:
    seller = hive.handle(SignUp(email="seller@example.com", password="password")).user.id
    return [hive.handle(CreateTicket(owner_id=seller, title=f"Gig {n}", price="10")).id for n in range(count)]


def test_an_event_committed_on_one_side_reaches_a_subscriber_on_the_other_once_under_its_event_id(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    recorder = Recorder("tests.audit", "ticket:created", "audit")
    with nats_hive(other_sqlite_url, nats_url, nats_prefix, recorder, nats_roles=("audit",)) as consumer:
        consumer.start(background=False)
        list_tickets(publisher, 1)
        assert publisher.relay_outbox() == 1
        wait_until(lambda: len(recorder.applied) == 1, what="the subscriber")
        [event_id] = recorder.applied
        [(_, headers, body)] = stored(nats_url, nats_prefix, "ticket.created")
        assert headers["Nats-Msg-Id"] == event_id
        # The relay dying after the ack republishes the same id: the stream keeps one copy.
        publisher.bus.publish(Message(id=event_id, type="ticket:created", body=body.decode()))
        assert len(stored(nats_url, nats_prefix, "ticket.created")) == 1
        assert publisher.relay_outbox() == 0
    assert recorder.applied == {event_id: 1}


def test_a_subscriber_that_fails_twice_is_given_the_event_again_and_applies_it_once(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    recorder = Recorder("tests.flaky", "ticket:created", "audit", failures=2)
    with nats_hive(other_sqlite_url, nats_url, nats_prefix, recorder, nats_roles=("audit",)) as consumer:
        consumer.start(background=False)
        list_tickets(publisher, 1)
        publisher.relay_outbox()
        wait_until(lambda: len(recorder.applied) == 1, what="the third delivery")
        [event_id] = recorder.applied
        with consumer.uow() as uow:
            assert not uow.processed.add("tests.flaky", event_id, consumer.clock.now())  # recorded once
        assert consumer.bus.dead_letters() == []  # type: ignore[attr-defined]
    assert recorder.calls == {event_id: 3}
    assert recorder.applied == {event_id: 1}


def test_an_event_waiting_for_its_predecessor_outlasts_max_deliver_and_applies_once_the_predecessor_is_there(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    # After a crash the predecessor comes back only when its ack wait is over: the event ahead of
    # it must not be dead-lettered by then, however many quick retries it had.
    recorder = Recorder("tests.replica", "ticket:created", "audit")
    recorder.waiting = True
    settings = {"nats_roles": ("audit",), "nats_max_deliver": 2, "nats_retry_delay": 0.05}
    with nats_hive(other_sqlite_url, nats_url, nats_prefix, recorder, **settings) as consumer:
        consumer.start(background=False)
        list_tickets(publisher, 1)
        publisher.relay_outbox()
        wait_until(lambda: sum(recorder.calls.values()) >= 5, what="five deliveries")
        assert consumer.bus.dead_letters() == []  # type: ignore[attr-defined]

        recorder.waiting = False  # the predecessor arrived
        wait_until(lambda: len(recorder.applied) == 1, what="the event applied")
        assert consumer.bus.dead_letters() == []  # type: ignore[attr-defined]


def test_a_poison_message_goes_to_its_roles_dead_letters_after_max_deliver_and_a_retry_after_the_fix_applies_it(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    recorder = Recorder("tests.poisoned", "ticket:created", "audit")
    recorder.broken = True
    with nats_hive(
        other_sqlite_url, nats_url, nats_prefix, recorder, nats_roles=("audit",), nats_max_deliver=3
    ) as consumer:
        bus = consumer.bus
        assert isinstance(bus, NatsBus)
        consumer.start(background=False)
        list_tickets(publisher, 1)
        publisher.relay_outbox()
        wait_until(lambda: len(bus.dead_letters()) == 1, what="the dead letter")
        [letter] = bus.dead_letters()
        [event_id] = recorder.calls
        assert recorder.calls == {event_id: 3}
        assert (letter.role, letter.event_id, letter.event_type, letter.deliveries) == (
            "audit",
            event_id,
            "ticket:created",
            3,
        )
        assert "RuntimeError: tests.poisoned is broken" in letter.error
        assert [s for s, _, _ in stored(nats_url, nats_prefix, "dead.audit")] == [letter.sequence]

        recorder.broken = False  # the fix
        assert [r.sequence for r in bus.retry_dead()] == [letter.sequence]
        wait_until(lambda: recorder.applied == {event_id: 1}, what="the retried dead letter")
        assert bus.dead_letters() == []
        # Only the role that failed got it again: a retry does not reach the event's subject.
        assert len(stored(nats_url, nats_prefix, "ticket.created")) == 1


def test_a_stream_with_another_duplicate_window_is_refused_by_name_and_left_as_it_is(
    sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    async def create() -> float:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=nats_prefix.upper(), subjects=[f"{nats_prefix}.>"], duplicate_window=10)
            return float((await js.stream_info(nats_prefix.upper())).config.duplicate_window)
        finally:
            await nc.close()

    assert run(create()) == 10
    recorder = Recorder("tests.audit", "ticket:created", "audit")
    with (
        nats_hive(sqlite_url, nats_url, nats_prefix, recorder) as hive,
        pytest.raises(ConfigurationError, match=r"duplicate window 10 s \(needs 120 s"),
    ):
        hive.start(background=False)

    async def window() -> float:
        nc = await nats.connect(nats_url)
        try:
            return float((await nc.jetstream().stream_info(nats_prefix.upper())).config.duplicate_window)
        finally:
            await nc.close()

    assert run(window()) == 10


def test_replay_drives_a_range_of_stored_events_into_a_fresh_consumer_and_a_second_replay_applies_nothing_new(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    list_tickets(publisher, 5)
    assert publisher.relay_outbox() == 5
    sequences = [s for s, _, _ in stored(nats_url, nats_prefix, "ticket.created")]
    ids = [h["Nats-Msg-Id"] for _, h, _ in stored(nats_url, nats_prefix, "ticket.created")]
    recorder = Recorder("tests.replica", "ticket:created", "replica")
    # A replica on an empty database, never started: no durable consumer reads for it.
    with nats_hive(other_sqlite_url, nats_url, nats_prefix, recorder) as replica:
        bus = replica.bus
        assert isinstance(bus, NatsBus)
        report = bus.replay("replica", subject="ticket:created", start_sequence=sequences[1], end_sequence=sequences[3])
        assert (report.delivered, report.failed_sequence, report.last_sequence) == (3, None, sequences[3])
        assert recorder.applied == {event_id: 1 for event_id in ids[1:4]}
        again = bus.replay("replica", subject="ticket.*", start_sequence=sequences[0])
        assert again.delivered == 5
        assert recorder.applied == {event_id: 1 for event_id in ids}


def test_a_relay_batch_reaches_the_stream_in_outbox_order_and_is_marked_sent_at_once(
    publisher: Hive, nats_url: str, nats_prefix: str
) -> None:
    tickets = list_tickets(publisher, 30)
    with publisher.uow() as uow:
        assert uow.outbox.pending() == 30

    assert publisher.relay_once(limit=100) == 30

    bodies = [json.loads(body) for _, _, body in stored(nats_url, nats_prefix, "ticket.created")]
    assert [body["data"]["id"] for body in bodies] == tickets
    with publisher.uow() as uow:
        assert uow.outbox.pending() == 0


def test_a_slow_batch_is_acknowledged_in_parts_and_never_redelivered_to_another_process_of_the_role(
    publisher: Hive, other_sqlite_url: str, nats_url: str, nats_prefix: str
) -> None:
    slow = Recorder("tests.slow", "ticket:created", "audit", delay=0.4)
    # 8 x 0.4 s outlasts the 2 s ack wait: unacknowledged until the end, the batch would go to
    # the second process once its ack wait ran out.
    settings: dict[str, Any] = {"nats_roles": ("audit",), "nats_ack_wait": 2, "nats_batch_size": 8}
    list_tickets(publisher, 8)
    publisher.relay_outbox()
    with (
        nats_hive(other_sqlite_url, nats_url, nats_prefix, slow, **settings) as first,
        nats_hive(other_sqlite_url, nats_url, nats_prefix, slow, **settings) as second,
    ):
        first.start(background=False)
        wait_until(lambda: len(slow.calls) > 0, what="the first process to take the batch")
        second.start(background=False)  # its pull waits for whatever the first lets go
        wait_until(lambda: len(slow.applied) == 8, what="eight slow deliveries")
        info = run(_consumer_info(nats_url, nats_prefix, "audit"))
    # Deliveries, redeliveries included (num_redelivered only counts those still pending).
    assert (info.delivered.stream_seq, info.delivered.consumer_seq) == (8, 8)
    assert info.num_ack_pending == 0
    assert set(slow.calls.values()) == {1}


async def _consumer_info(nats_url: str, prefix: str, role: str) -> Any:
    nc = await nats.connect(nats_url)
    try:
        return await nc.jetstream().consumer_info(prefix.upper(), consumer_name(prefix, role))
    finally:
        await nc.close()


def test_publishing_while_nats_is_unreachable_raises_so_the_relay_retries_and_does_not_wait_for_each_event() -> None:
    bus = NatsBus(url="nats://127.0.0.1:1", prefix="unreachable", connect_timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(PublishFailed, match=r"Could not connect to NATS at nats://127\.0\.0\.1:1"):
            bus.publish(Message(id="e1", type="ticket:created", body="{}"))
        with pytest.raises(PublishFailed, match="unreachable"):
            bus.publish(Message(id="e2", type="ticket:created", body="{}"))
        assert time.monotonic() - started < 3
    finally:
        bus.close()
