"""The envelope's optional request id: absent from the wire when unset, kept when set, bound while handled."""

from __future__ import annotations

import json

import jsonschema
import pytest

from eventhive_core.contracts import Envelope
from eventhive_core.contracts.codec import json_schemas, parse_message, schema_file_name, to_envelope, to_message
from eventhive_core.contracts.envelope import request_id_in
from eventhive_core.domain.events import DomainEvent
from eventhive_core.observability.request_context import current_request_id, request_id_bound
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import make_delivery
from eventhive_core.testing.hives import make_test_hive

from .conftest import NOON


def test_an_envelope_without_a_request_id_is_written_exactly_as_before_the_field_existed(
    sample_event: DomainEvent,
) -> None:
    envelope = to_envelope(sample_event, producer="eventhive/test@1", occurred_at=NOON)

    wire = json.loads(envelope.to_json())

    assert list(wire) == ["id", "type", "version", "occurred_at", "producer", "data"]
    assert Envelope.from_json(envelope.to_json()) == envelope
    assert envelope.request_id is None


def test_an_envelope_with_a_request_id_keeps_it_through_the_wire_and_its_schema_accepts_it(
    sample_event: DomainEvent,
) -> None:
    envelope = to_envelope(sample_event, producer="eventhive/test@1", occurred_at=NOON, request_id="checkout-7")

    body = envelope.to_json()

    assert parse_message(to_message(envelope)).request_id == "checkout-7"
    assert request_id_in(body) == "checkout-7"
    jsonschema.validate(json.loads(body), json_schemas()[schema_file_name(envelope.type, envelope.version)])


@pytest.mark.parametrize("bad", ["", "two words", "x" * 129, "line\nbreak", 42, ["a"]])
def test_an_event_with_an_unsafe_request_id_is_kept_and_reads_without_one(
    sample_event: DomainEvent, bad: object
) -> None:
    # The id only helps follow logs: another producer's bad one must not lose the event.
    envelope = to_envelope(sample_event, producer="eventhive/test@1", occurred_at=NOON)
    wire = {**json.loads(envelope.to_json()), "request_id": bad}

    parsed = Envelope.from_json(json.dumps(wire))

    assert parsed.request_id is None
    assert (parsed.id, parsed.type, parsed.data) == (envelope.id, envelope.type, envelope.data)
    assert request_id_in(json.dumps(wire)) is None


def test_events_recorded_while_a_request_id_is_bound_carry_it_and_the_subscriber_runs_with_it() -> None:
    from eventhive_core import CreateTicket, SignUp

    hive = make_test_hive()
    seen: list[str | None] = []

    def react(envelope: Envelope, uow: UnitOfWork) -> None:
        seen.append(current_request_id())

    deliver = make_delivery(Subscription("test.ids", "ticket:created", "test", react), hive.services)
    try:
        seller = hive.handle(SignUp(email="seller@example.com", password="password1")).user.id
        with request_id_bound("sell-1"):
            hive.handle(CreateTicket(owner_id=seller, title="Gig", price="20", capacity=1))
        hive.handle(CreateTicket(owner_id=seller, title="Play", price="10", capacity=1))
        with hive.uow() as uow:
            claimed = uow.outbox.claim(hive.clock.now(), hive.clock.now(), 100)
        tickets = [record.message for record in claimed if record.message.type == "ticket:created"]
        for message in tickets:
            with request_id_bound("whatever-the-thread-had"):
                deliver(message)
    finally:
        hive.close()

    assert [request_id_in(message.body) for message in tickets] == ["sell-1", None]
    assert seen == ["sell-1", None]
