from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core.adapters import fake_payments
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.messages import Message
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.testing import fakes
from eventhive_core.testing.fakes import BusClosed, DeliveryFailed, FakePaymentGateway, ManualScheduler, RecordingBus

CREATED = Message(id="evt-1", type="order:created", body="{}")
CANCELLED = Message(id="evt-2", type="order:cancelled", body="{}")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_the_fakes_satisfy_their_ports() -> None:
    bus: EventBus = RecordingBus()
    scheduler: ExpiryScheduler = ManualScheduler()
    gateway: PaymentGateway = FakePaymentGateway()

    assert (bus.name, scheduler.name, gateway.name) == ("recording", "manual", "fake")  # type: ignore[attr-defined]


def test_the_fake_payment_gateway_is_re_exported_from_testing() -> None:
    assert fakes.FakePaymentGateway is fake_payments.FakePaymentGateway
    assert "FakePaymentGateway" in fakes.__all__
    assert fakes.__all__ == sorted(fakes.__all__)


def test_a_recording_bus_records_without_delivering_until_told() -> None:
    bus, received = RecordingBus(), []
    bus.subscribe("audit", "order:created", "orders", received.append)

    bus.publish(CREATED)
    bus.publish(CANCELLED)

    assert bus.published == [CREATED, CANCELLED]
    assert bus.types() == ["order:created", "order:cancelled"]
    assert bus.of_type("order:cancelled") == [CANCELLED]
    assert received == []

    assert bus.deliver_pending() == 2
    assert received == [CREATED]
    assert bus.undelivered == []
    assert bus.deliver_pending() == 0


def test_a_recording_bus_can_deliver_immediately() -> None:
    bus, received = RecordingBus(deliver_immediately=True), []
    bus.subscribe("a", "order:created", "orders", lambda m: received.append(("a", m.id)))
    bus.subscribe("b", "order:created", "orders", lambda m: received.append(("b", m.id)))

    bus.publish(CREATED)

    assert received == [("a", "evt-1"), ("b", "evt-1")]
    assert bus.undelivered == []


def test_a_recording_bus_reports_every_failing_subscriber_and_keeps_the_message() -> None:
    bus, received = RecordingBus(), []

    def broken(message: Message) -> None:
        raise RuntimeError("boom")

    bus.subscribe("broken", "order:created", "orders", broken)
    bus.subscribe("fine", "order:created", "orders", received.append)
    bus.publish(CREATED)

    with pytest.raises(DeliveryFailed) as caught:
        bus.deliver_pending()

    assert caught.value.failed == ("broken",)
    assert received == [CREATED]
    assert bus.undelivered == [CREATED]


def test_a_recording_bus_can_simulate_a_broker_outage() -> None:
    bus = RecordingBus()
    bus.fail_next(2)

    with pytest.raises(ConnectionError):
        bus.publish(CREATED)
    with pytest.raises(ConnectionError):
        bus.publish(CREATED)
    bus.publish(CREATED)

    assert bus.published == [CREATED]


def test_a_recording_bus_refuses_duplicate_names_and_publishing_once_closed() -> None:
    bus = RecordingBus()
    bus.subscribe("audit", "order:created", "orders", lambda m: None)
    bus.start()

    with pytest.raises(ValueError, match="audit"):
        bus.subscribe("audit", "order:cancelled", "orders", lambda m: None)
    bus.close()
    with pytest.raises(BusClosed):
        bus.publish(CREATED)
    assert bus.started
    assert bus.closed


def test_a_manual_scheduler_fires_only_due_timers_earliest_first() -> None:
    scheduler, expired = ManualScheduler(), []
    scheduler.start(expired.append)
    scheduler.schedule("late", T0 + timedelta(seconds=90))
    scheduler.schedule("early", T0 + timedelta(seconds=30))
    scheduler.schedule("middle", T0 + timedelta(seconds=60))

    assert scheduler.fire_due(T0 + timedelta(seconds=29)) == []
    assert scheduler.fire_due(T0 + timedelta(seconds=60)) == ["early", "middle"]

    assert expired == ["early", "middle"]
    assert scheduler.pending == [("late", T0 + timedelta(seconds=90))]
    assert scheduler.fired == ["early", "middle"]
    assert scheduler.scheduled == [
        ("late", T0 + timedelta(seconds=90)),
        ("early", T0 + timedelta(seconds=30)),
        ("middle", T0 + timedelta(seconds=60)),
    ]


def test_a_manual_scheduler_fires_a_timer_once() -> None:
    scheduler, expired = ManualScheduler(), []
    scheduler.start(expired.append)
    scheduler.schedule("order-1", T0)

    scheduler.fire_due(T0)
    scheduler.fire_due(T0 + timedelta(hours=1))

    assert expired == ["order-1"]


def test_a_manual_scheduler_can_fire_everything() -> None:
    scheduler, expired = ManualScheduler(), []
    scheduler.start(expired.append)
    scheduler.schedule("a", T0 + timedelta(days=1))
    scheduler.schedule("b", T0)

    assert scheduler.fire_all() == ["b", "a"]
    assert scheduler.pending == []


def test_a_manual_scheduler_needs_start_before_firing() -> None:
    scheduler = ManualScheduler()
    scheduler.schedule("order-1", T0)

    with pytest.raises(RuntimeError, match="start"):
        scheduler.fire_due(T0)
    assert not scheduler.started


def test_a_raising_expiry_propagates_and_leaves_later_timers_pending() -> None:
    scheduler = ManualScheduler()

    def expire(order_id: str) -> None:
        if order_id == "broken":
            raise RuntimeError("cannot expire")

    scheduler.start(expire)
    scheduler.schedule("broken", T0)
    scheduler.schedule("next", T0 + timedelta(seconds=1))

    with pytest.raises(RuntimeError, match="cannot expire"):
        scheduler.fire_due(T0 + timedelta(seconds=5))
    assert scheduler.pending == [("next", T0 + timedelta(seconds=1))]
    assert scheduler.fire_due(T0 + timedelta(seconds=5)) == ["next"]


def test_a_manual_scheduler_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualScheduler().schedule("order-1", datetime(2026, 1, 1))
