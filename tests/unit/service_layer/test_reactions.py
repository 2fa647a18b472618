from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core.adapters.memory import MemoryStorage
from eventhive_core.contracts.codec import to_envelope
from eventhive_core.contracts.envelope import Envelope
from eventhive_core.domain.events import OrderCancelled, OrderCreated
from eventhive_core.domain.expiration import ExpirationPolicy
from eventhive_core.service_layer.expiry import SCHEDULE_EXPIRY, schedule_expiry_subscriber
from eventhive_core.service_layer.messagebus import on_event
from eventhive_core.testing.fakes import ManualScheduler

NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)
ORDER_ID = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01"
CREATED = OrderCreated(
    id=ORDER_ID,
    version=0,
    status="created",
    buyer_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02",
    ticket_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c03",
    quantity=2,
    expires_at=NOON + timedelta(seconds=60),
    amount_minor=3000,
    currency="USD",
)


def envelope_of(event: OrderCreated | OrderCancelled) -> Envelope:
    return to_envelope(event, producer="eventhive/orders@test", occurred_at=NOON)


def test_schedule_expiry_keeps_the_name_event_and_role_that_key_processed_messages() -> None:
    subscriber = schedule_expiry_subscriber(ManualScheduler(), ExpirationPolicy())

    assert (subscriber.name, subscriber.event_type, subscriber.role) == (
        "expiration.schedule_expiry",
        "order:created",
        "expiration",
    )
    assert subscriber.name == SCHEDULE_EXPIRY


def test_schedule_expiry_schedules_the_order_at_its_hold_end_plus_the_grace() -> None:
    scheduler = ManualScheduler()
    subscriber = schedule_expiry_subscriber(scheduler, ExpirationPolicy(grace=timedelta(seconds=2)))

    with MemoryStorage().unit_of_work() as uow:
        subscriber.handler(envelope_of(CREATED), uow)

    assert scheduler.scheduled == [(ORDER_ID, NOON + timedelta(seconds=62))]


def test_a_typed_subscriber_refuses_an_event_of_another_type() -> None:
    subscriber = on_event("audit.created", "audit", OrderCreated, lambda event, uow: None)
    cancelled = OrderCancelled(id=ORDER_ID, version=1, ticket_id=CREATED.ticket_id, quantity=2, reason="buyer")

    with MemoryStorage().unit_of_work() as uow, pytest.raises(TypeError, match="reacts to OrderCreated"):
        subscriber.handler(envelope_of(cancelled), uow)
