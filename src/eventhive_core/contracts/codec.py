"""The contracts' codec: domain events to envelopes and back, messages, and JSON Schema export.

Producers publish the newest schema version of each type (`CURRENT_VERSION`). Consumers accept
every version still listed in `PAYLOADS`; an older one is brought up to the newest by the
`UPCASTERS` chain before it becomes a domain event.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from eventhive_core.contracts.envelope import Envelope, payload_model
from eventhive_core.contracts.errors import InvalidEnvelope, UnknownEventType, describe_validation_error
from eventhive_core.contracts.payloads import PAYLOADS, Payload
from eventhive_core.domain.events import EVENT_TYPES, DomainEvent
from eventhive_core.domain.ids import new_id
from eventhive_core.ports.messages import Message

__all__ = [
    "CURRENT_VERSION",
    "JSON_SCHEMA_DIALECT",
    "PAYLOADS",
    "UPCASTERS",
    "Upcaster",
    "json_schemas",
    "parse_message",
    "schema_file_name",
    "to_domain_event",
    "to_envelope",
    "to_message",
]

#: The newest schema version of each event type: what producers publish.
CURRENT_VERSION: dict[str, int] = {}
for _event_type, _version in PAYLOADS:
    CURRENT_VERSION[_event_type] = max(_version, CURRENT_VERSION.get(_event_type, 0))

#: Turns the `data` of version N into the `data` of version N+1 (JSON-ready dicts).
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: One upcaster per `(type, N)` for every N below the type's current version; the registry test
#: fails if a version is added without one.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    # order:cancelled v2 only widened `reason` (adding `refunded`): every v1 message is a valid v2 one.
    ("order:cancelled", 1): dict,
}

#: The JSON Schema dialect pydantic generates.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def to_envelope(
    event: DomainEvent,
    *,
    producer: str,
    occurred_at: datetime,
    event_id: str | None = None,
    request_id: str | None = None,
) -> Envelope:
    """Wrap a domain event in an envelope of its type's current schema version.

    Args:
        event: The domain event.
        producer: Who publishes it, e.g. `eventhive/orders@0.1.0`.
        occurred_at: When the change committed; must be timezone-aware.
        event_id: The outbox row's id; a new UUIDv7 when None.
        request_id: The id of the request that caused the event, if any.

    Returns:
        The envelope, with `data` as JSON-ready values.

    Raises:
        UnknownEventType: The event's type has no payload model.
        InvalidEnvelope: A field does not fit the contract (a naive datetime, a malformed id...).
    """
    version = CURRENT_VERSION.get(event.type)
    if version is None:
        raise UnknownEventType(
            f"{type(event).__name__} has type {event.type!r}, which has no payload model; "
            "add one to eventhive_core.contracts.payloads.PAYLOADS."
        )
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise InvalidEnvelope(
            f"occurred_at of a {event.type} event must be timezone-aware, got naive {occurred_at.isoformat()}; "
            "take it from the injected Clock, which gives aware UTC."
        )
    values = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    try:
        payload = PAYLOADS[(event.type, version)].model_validate(values)
    except ValidationError as exc:
        raise InvalidEnvelope(
            f"{type(event).__name__} does not fit {event.type} v{version}: {describe_validation_error(exc)}"
        ) from exc
    try:
        return Envelope(
            id=new_id() if event_id is None else event_id,
            type=event.type,
            version=version,
            occurred_at=occurred_at,
            producer=producer,
            data=payload.model_dump(mode="json"),
            request_id=request_id,
        )
    except ValidationError as exc:
        raise InvalidEnvelope(f"Cannot build the {event.type} envelope: {describe_validation_error(exc)}") from exc


def to_message(envelope: Envelope) -> Message:
    """Return the bus message for an envelope: its id, its type and its JSON text."""
    return Message(id=envelope.id, type=envelope.type, body=envelope.to_json())


def parse_message(message: Message) -> Envelope:
    """Read a bus message as an envelope and check it fully against its contract.

    Args:
        message: What the bus delivered.

    Returns:
        The envelope; its `data` is known to validate against the model for its type and version.

    Raises:
        InvalidEnvelope: The body is not a valid envelope, disagrees with the message's id or type,
            or its `data` does not match the payload model.
        UnknownEventType: The `(type, version)` pair is not registered.
    """
    try:
        envelope = Envelope.model_validate_json(message.body)
    except ValidationError as exc:
        raise InvalidEnvelope(
            f"Message {message.id} ({message.type}) is not a valid event envelope: {describe_validation_error(exc)}"
        ) from exc
    if envelope.id != message.id or envelope.type != message.type:
        raise InvalidEnvelope(
            f"Message {message.id} ({message.type}) carries an envelope for {envelope.id} ({envelope.type}); "
            "the bus adapter must copy the envelope's id and type onto the message."
        )
    envelope.payload()
    return envelope


def to_domain_event(envelope: Envelope) -> DomainEvent:
    """Turn an envelope into its domain event, upcasting older schema versions to the newest first.

    Raises:
        UnknownEventType: The type or version is not registered, or no domain event has that type.
        InvalidEnvelope: `data` does not match its model (or an upcaster produced invalid data).
    """
    payload = envelope.payload()
    event_class = EVENT_TYPES.get(envelope.type)
    if event_class is None:
        raise UnknownEventType(f"No domain event has type {envelope.type!r}; known: {', '.join(sorted(EVENT_TYPES))}.")
    payload = _upcast(payload, envelope)
    values = {field.name: getattr(payload, field.name) for field in dataclasses.fields(event_class)}
    return event_class(**values)


def _upcast(payload: Payload, envelope: Envelope) -> Payload:
    current = CURRENT_VERSION[envelope.type]
    version = envelope.version
    while version < current:
        step = UPCASTERS.get((envelope.type, version))
        if step is None:
            raise UnknownEventType(
                f"Event {envelope.id} is {envelope.type} v{version} and no upcaster leads to v{version + 1}; "
                "add one to eventhive_core.contracts.codec.UPCASTERS."
            )
        version += 1
        try:
            payload = payload_model(envelope.type, version).model_validate(step(payload.model_dump(mode="json")))
        except ValidationError as exc:
            raise InvalidEnvelope(
                f"Upcasting event {envelope.id} to {envelope.type} v{version} gave invalid data: "
                f"{describe_validation_error(exc, prefix='data.')}"
            ) from exc
    return payload


def schema_file_name(event_type: str, version: int) -> str:
    """Return the file name of a schema: the type with `:` as `.`, then the version.

    Examples:
        >>> schema_file_name("order:created", 1)
        'order.created.v1.json'
    """
    return f"{event_type.replace(':', '.')}.v{version}.json"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every registered `(type, version)`, keyed by file name.

    Each is the envelope's schema with `type` and `version` pinned to constants and `data` set to
    the payload model's schema, so one file validates a whole message body.

    Examples:
        >>> schema = json_schemas()["order.cancelled.v1.json"]
        >>> schema["properties"]["type"]["const"], schema["properties"]["data"]["required"][-1]
        ('order:cancelled', 'reason')
    """
    envelope_schema = Envelope.model_json_schema()
    schemas: dict[str, dict[str, Any]] = {}
    for (event_type, version), model in sorted(PAYLOADS.items()):
        schema = copy.deepcopy(envelope_schema)
        data_schema = model.model_json_schema()
        definitions = {**schema.pop("$defs", {}), **data_schema.pop("$defs", {})}
        properties = schema["properties"]
        properties["type"] = {
            "const": event_type,
            "description": properties["type"]["description"],
            "type": "string",
        }
        properties["version"] = {
            "const": version,
            "description": properties["version"]["description"],
            "type": "integer",
        }
        properties["data"] = data_schema
        file_name = schema_file_name(event_type, version)
        schema.update(
            {
                "$schema": JSON_SCHEMA_DIALECT,
                "$id": f"urn:eventhive:schema:{file_name.removesuffix('.json')}",
                "title": f"{event_type} v{version}",
                "description": f"An EventHive `{event_type}` event: the envelope with data schema version {version}.",
            }
        )
        if definitions:
            schema["$defs"] = definitions
        schemas[file_name] = schema
    return schemas
