from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from pydantic import ValidationError

from eventhive_core.contracts import (
    Envelope,
    EventContractError,
    InvalidEnvelope,
    UnknownEventType,
    parse_message,
    to_domain_event,
    to_envelope,
    to_message,
)
from eventhive_core.domain.events import DomainEvent
from eventhive_core.ports.messages import Message

PRODUCER = "eventhive/orders@0.1.0"
COMMITTED = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)


def body_of(event: DomainEvent) -> dict:
    return json.loads(to_message(to_envelope(event, producer=PRODUCER, occurred_at=COMMITTED)).body)


def message_from(body: dict) -> Message:
    return Message(id=body["id"], type=body["type"], body=json.dumps(body))


def test_both_errors_are_value_errors_under_one_base():
    assert issubclass(UnknownEventType, EventContractError)
    assert issubclass(InvalidEnvelope, EventContractError)
    assert issubclass(EventContractError, ValueError)


def test_an_unknown_event_type_is_refused_with_the_known_ones_listed(order_created):
    body = body_of(order_created)
    body["type"] = "order:teleported"

    with pytest.raises(UnknownEventType, match=r"'order:teleported' version 1 \(it is not an EventHive event\)") as err:
        parse_message(message_from(body))

    assert "order:created v1" in str(err.value)
    assert "user:banned v1" in str(err.value)


def test_a_version_from_a_newer_producer_is_refused_with_a_hint_to_upgrade(order_created):
    body = body_of(order_created)
    body["version"] = 2

    with pytest.raises(UnknownEventType, match=r"'order:created' version 2 .*newer producer; upgrade this consumer"):
        parse_message(message_from(body))


def test_data_that_breaks_a_constraint_is_refused_naming_the_field(order_created):
    body = body_of(order_created)
    body["data"]["quantity"] = 0

    with pytest.raises(
        InvalidEnvelope,
        match=r"order:created v1\) has invalid data: data\.quantity: .*greater than or equal to 1",
    ):
        parse_message(message_from(body))


def test_a_missing_field_is_refused_naming_it(order_created):
    body = body_of(order_created)
    del body["data"]["ticket_id"]

    with pytest.raises(InvalidEnvelope, match=r"data\.ticket_id: Field required"):
        parse_message(message_from(body))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "2"),
        ("quantity", True),
        ("amount_minor", 50.0),
        ("currency", "eur"),
        ("buyer_id", "42"),
        ("status", "shipped"),
        ("expires_at", 1767268860),
    ],
)
def test_data_of_the_wrong_shape_is_refused_rather_than_coerced(order_created, field, value):
    body = body_of(order_created)
    body["data"][field] = value

    with pytest.raises(InvalidEnvelope, match=rf"data\.{field}: "):
        parse_message(message_from(body))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "42"),
        ("version", -1),
        ("ticket_id", None),
        ("quantity", 0),
        ("quantity", "2"),
        ("payment_id", "ch_123"),  # the payment's EventHive id, never the provider's
    ],
)
def test_an_order_completed_event_outside_its_contract_is_refused_naming_the_field(order_completed, field, value):
    body = body_of(order_completed)
    body["data"][field] = value

    with pytest.raises(InvalidEnvelope, match=rf"\(order:completed v1\) has invalid data: data\.{field}: "):
        parse_message(message_from(body))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "fraud"),  # the payments service could not refund for a reason it does not know
        ("reason", "seller"),  # a refund reason, but not one the orders service refuses a payment for
        ("reason", ""),
        ("payment_id", "42"),
        ("order_id", 7),
    ],
)
def test_a_payment_refusal_outside_its_contract_is_refused_naming_the_field(order_payment_refused, field, value):
    body = body_of(order_payment_refused)
    body["data"][field] = value

    with pytest.raises(InvalidEnvelope, match=rf"\(order:payment_refused v1\) has invalid data: data\.{field}: "):
        parse_message(message_from(body))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-01-01T12:01:00", "Input should have timezone info"),
        (1767268860, "must be an ISO 8601 date-time string"),  # lax parsing would read a Unix time
        ("tomorrow", "Input should be a valid datetime"),
    ],
)
def test_an_expiration_due_time_without_a_timezone_or_not_text_is_refused(expiration_due, value, problem):
    body = body_of(expiration_due)
    body["data"]["due_at"] = value

    with pytest.raises(InvalidEnvelope, match=rf"\(expiration:due v1\) has invalid data: data\.due_at: .*{problem}"):
        parse_message(message_from(body))


def test_an_expiration_due_without_its_order_is_refused(expiration_due):
    body = body_of(expiration_due)
    del body["data"]["order_id"]

    with pytest.raises(InvalidEnvelope, match=r"data\.order_id: Field required"):
        parse_message(message_from(body))


def test_a_naive_datetime_in_data_is_refused(order_created):
    body = body_of(order_created)
    body["data"]["expires_at"] = "2026-01-01T12:01:00"

    with pytest.raises(InvalidEnvelope, match=r"data\.expires_at: Input should have timezone info"):
        parse_message(message_from(body))


def test_a_naive_occurred_at_on_the_wire_is_refused(order_created):
    body = body_of(order_created)
    body["occurred_at"] = "2026-01-01T12:00:05"

    with pytest.raises(InvalidEnvelope, match=r"occurred_at: Input should have timezone info"):
        parse_message(message_from(body))


def test_a_producer_cannot_stamp_an_event_with_a_naive_time(order_created):
    with pytest.raises(InvalidEnvelope, match=r"occurred_at .* must be timezone-aware.*injected Clock"):
        to_envelope(order_created, producer=PRODUCER, occurred_at=datetime(2026, 1, 1, 12))


def test_a_domain_event_holding_a_naive_datetime_cannot_be_published(order_created):
    event = dataclasses.replace(order_created, expires_at=datetime(2026, 1, 1, 12, 1))

    with pytest.raises(InvalidEnvelope, match=r"OrderCreated does not fit order:created v1: expires_at: .*timezone"):
        to_envelope(event, producer=PRODUCER, occurred_at=COMMITTED)


def test_an_envelope_built_by_hand_refuses_a_naive_time():
    with pytest.raises(ValidationError, match="timezone"):
        Envelope(
            id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01",
            type="expiration:complete",
            version=1,
            occurred_at=datetime(2026, 1, 1, 12),
            producer=PRODUCER,
            data={"order_id": "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02"},
        )


def test_a_domain_event_without_a_payload_model_cannot_be_published():
    @dataclasses.dataclass(frozen=True)
    class TicketTeleported(DomainEvent):
        type: ClassVar[str] = "ticket:teleported"

    with pytest.raises(UnknownEventType, match=r"TicketTeleported has type 'ticket:teleported'.*add one"):
        to_envelope(TicketTeleported(), producer=PRODUCER, occurred_at=COMMITTED)


@pytest.mark.parametrize("body", ["not json", "[]", "{}", '{"id": "x"}'])
def test_a_body_that_is_not_an_envelope_is_refused(body):
    with pytest.raises(InvalidEnvelope, match=r"Message m1 \(order:created\) is not a valid event envelope: "):
        parse_message(Message(id="m1", type="order:created", body=body))


def test_an_envelope_with_a_bad_id_or_version_is_refused(order_created):
    body = body_of(order_created)
    body["id"] = "123"
    body["version"] = 0

    with pytest.raises(
        InvalidEnvelope, match=r"id: String should match pattern.*; version: .*greater than or equal to 1"
    ):
        Envelope.from_json(json.dumps(body))


def test_a_message_whose_id_disagrees_with_its_envelope_is_refused(order_created):
    body = body_of(order_created)

    with pytest.raises(InvalidEnvelope, match="must copy the envelope's id and type onto the message"):
        parse_message(Message(id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c77", type=body["type"], body=json.dumps(body)))


def test_to_domain_event_validates_data_too(order_created):
    envelope = to_envelope(order_created, producer=PRODUCER, occurred_at=COMMITTED)
    tampered = envelope.model_copy(update={"data": {**envelope.data, "currency": 978}})

    with pytest.raises(InvalidEnvelope, match=r"data\.currency: Input should be a valid string"):
        to_domain_event(tampered)
