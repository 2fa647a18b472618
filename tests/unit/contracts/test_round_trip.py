from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from eventhive_core.contracts import (
    CURRENT_VERSION,
    PAYLOADS,
    Envelope,
    OrderCancelledV2,
    OrderCreatedV1,
    OrderPaymentRefusedV1,
    parse_message,
    to_domain_event,
    to_envelope,
    to_message,
)
from eventhive_core.domain.events import EVENT_TYPES, DomainEvent, OrderCreated, OrderPaymentRefused
from eventhive_core.domain.order import CancelReason, OrderStatus
from eventhive_core.ports.messages import Message
from eventhive_core.service_layer.settlement import RefundReason

PRODUCER = "eventhive/orders@0.1.0"
COMMITTED = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)


def wire(event: DomainEvent, event_id: str | None = None) -> Message:
    return to_message(to_envelope(event, producer=PRODUCER, occurred_at=COMMITTED, event_id=event_id))


def test_every_event_type_survives_the_trip_to_the_wire_and_back(sample_event):
    message = wire(sample_event)

    envelope = parse_message(message)

    assert to_domain_event(envelope) == sample_event
    assert type(to_domain_event(envelope)) is type(sample_event)


def test_the_samples_cover_every_domain_event_type(samples):
    assert sorted(event.type for event in samples) == sorted(EVENT_TYPES)


def test_every_domain_event_type_has_a_current_payload_with_exactly_its_fields():
    assert sorted(CURRENT_VERSION) == sorted(EVENT_TYPES)
    for event_type, event_class in EVENT_TYPES.items():
        model = PAYLOADS[(event_type, CURRENT_VERSION[event_type])]
        assert list(model.model_fields) == [field.name for field in dataclasses.fields(event_class)], event_type


def test_the_envelope_carries_the_metadata_a_consumer_needs(sample_event):
    envelope = to_envelope(sample_event, producer=PRODUCER, occurred_at=COMMITTED)

    assert envelope.type == sample_event.type
    assert envelope.version == CURRENT_VERSION[sample_event.type]
    assert envelope.producer == PRODUCER
    assert envelope.occurred_at == COMMITTED
    assert set(envelope.data) == {field.name for field in dataclasses.fields(sample_event)}


def test_the_message_carries_the_envelope_id_and_type_and_its_json(order_created):
    envelope = to_envelope(order_created, producer=PRODUCER, occurred_at=COMMITTED)

    message = to_message(envelope)

    assert (message.id, message.type) == (envelope.id, "order:created")
    assert Envelope.from_json(message.body) == envelope


def test_a_new_event_gets_a_fresh_time_ordered_uuid7_id(order_created):
    first = to_envelope(order_created, producer=PRODUCER, occurred_at=COMMITTED)
    second = to_envelope(order_created, producer=PRODUCER, occurred_at=COMMITTED)

    assert first.id != second.id
    assert uuid.UUID(first.id).version == 7
    assert first.id < second.id or first.id[:13] == second.id[:13]  # same millisecond: order is random


def test_redelivering_an_outbox_row_gives_the_same_message(order_created):
    row_id = "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c99"

    assert wire(order_created, event_id=row_id) == wire(order_created, event_id=row_id)
    assert wire(order_created, event_id=row_id).id == row_id


def test_datetimes_travel_as_iso_8601_utc_whatever_zone_they_were_made_in(order_created):
    berlin = timezone(timedelta(hours=1))
    event = dataclasses.replace(order_created, expires_at=datetime(2026, 1, 1, 13, 1, tzinfo=berlin))

    body = json.loads(wire(event).body)

    assert body["data"]["expires_at"] == "2026-01-01T12:01:00Z"
    assert body["occurred_at"] == "2026-01-01T12:00:05Z"
    assert to_domain_event(parse_message(wire(event))).expires_at.tzinfo is UTC


def test_the_wire_uses_snake_case_keys_and_integer_money(order_created):
    data = json.loads(wire(order_created).body)["data"]

    assert data["amount_minor"] == 5000
    assert {"buyer_id", "ticket_id", "expires_at", "amount_minor"} <= set(data)
    assert not any(character.isupper() for key in data for character in key)


def test_a_consumer_accepts_fields_a_newer_producer_added_within_the_same_version(order_created):
    body = json.loads(wire(order_created).body)
    body["data"]["seat"] = "A12"  # an optional field a later release might add
    body["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    message = Message(id=body["id"], type=body["type"], body=json.dumps(body))

    assert to_domain_event(parse_message(message)) == order_created


def test_order_status_and_cancel_reason_spell_the_domain_enums():
    assert set(get_args(OrderCreatedV1.model_fields["status"].annotation)) == {s.value for s in OrderStatus}
    assert set(get_args(OrderCancelledV2.model_fields["reason"].annotation)) == {r.value for r in CancelReason}


def test_an_order_completed_event_carries_the_payment_that_completed_it_there_and_back(order_completed):
    data = json.loads(wire(order_completed).body)["data"]

    assert data == {
        "id": order_completed.id,
        "version": 1,
        "ticket_id": order_completed.ticket_id,
        "quantity": 2,
        "payment_id": order_completed.payment_id,
    }
    assert to_domain_event(parse_message(wire(order_completed))) == order_completed


def test_a_payment_refusal_round_trips_with_either_reason_even_given_as_the_refund_enum(order_payment_refused):
    for reason in (RefundReason.ORDER_NOT_LIVE, RefundReason.ALREADY_PAID):
        event = dataclasses.replace(order_payment_refused, reason=reason)

        back = to_domain_event(parse_message(wire(event)))

        assert back == OrderPaymentRefused(event.order_id, event.payment_id, reason.value)
        assert json.loads(wire(event).body)["data"]["reason"] == reason.value


def test_the_payment_refusal_reasons_are_refund_reasons_the_payments_service_knows():
    # The payments service refunds a refused payment with RefundReason(event.reason): each must parse.
    reasons = set(get_args(OrderPaymentRefusedV1.model_fields["reason"].annotation))

    assert reasons == {RefundReason.ORDER_NOT_LIVE.value, RefundReason.ALREADY_PAID.value}
    assert reasons <= {reason.value for reason in RefundReason}


def test_an_expiration_due_time_travels_as_utc_whatever_zone_it_was_made_in(expiration_due):
    berlin = timezone(timedelta(hours=1))
    event = dataclasses.replace(expiration_due, due_at=datetime(2026, 1, 1, 13, 1, tzinfo=berlin))

    body = json.loads(wire(event).body)
    back = to_domain_event(parse_message(wire(event)))

    assert body["data"] == {"order_id": expiration_due.order_id, "due_at": "2026-01-01T12:01:00Z"}
    assert back == event
    assert back.due_at.tzinfo is UTC


@given(
    quantity=st.integers(min_value=1, max_value=10_000),
    amount_minor=st.integers(min_value=0, max_value=10**12),
    currency=st.from_regex(r"\A[A-Z]{3}\Z"),
    # Any zone, normalised to the instant it names: a wall time skipped by a DST jump names no
    # instant of its own, and EventHive only ever makes aware UTC times anyway.
    expires_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
    ).map(lambda moment: moment.astimezone(UTC)),
    entity_version=st.integers(min_value=0, max_value=2**31),
)
def test_any_valid_order_created_event_round_trips_to_an_equal_event(
    quantity, amount_minor, currency, expires_at, entity_version
):
    event = OrderCreated(
        id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c04",
        version=entity_version,
        status="created",
        buyer_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02",
        ticket_id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c03",
        quantity=quantity,
        expires_at=expires_at,
        amount_minor=amount_minor,
        currency=currency,
    )

    back = to_domain_event(parse_message(wire(event)))

    assert back == event
    assert back.expires_at.utcoffset() == timedelta(0)
