"""The envelope: what every EventHive integration event looks like on the wire.

An envelope wraps a payload (`data`) with what a consumer needs before it reads the payload: a
stable id to drop duplicates, the subject, the schema version of `data`, when it happened and
who produced it. `version` here is the *schema* version of `data`; `data.version`, where a
payload has one, is the entity's optimistic-concurrency version, as in the original.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from eventhive_core.contracts.errors import InvalidEnvelope, UnknownEventType, describe_validation_error
from eventhive_core.contracts.payloads import PAYLOADS, EntityId, Payload, Text, UtcDatetime
from eventhive_core.observability.request_context import (
    MAX_REQUEST_ID_LENGTH,
    REQUEST_ID_PATTERN,
    sanitize_request_id,
)

#: A subject: lower-case words joined by colons (`order:created`). No dots, so it maps to a NATS
#: subject by replacing `:` with `.` and back without ambiguity.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)+$"

EventTypeName = Annotated[str, StringConstraints(pattern=EVENT_TYPE_PATTERN)]

#: A request id as the web process accepts one (short, safe characters): see
#: :mod:`eventhive_core.observability.request_context`.
RequestIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_REQUEST_ID_LENGTH, pattern=REQUEST_ID_PATTERN.pattern)
]


def _safe_or_none(value: object) -> str | None:
    # The id only helps follow logs: an unsafe one from another producer is dropped, never a
    # reason to refuse (and so lose) the event it rides on.
    return sanitize_request_id(value) if isinstance(value, str) else None


#: The envelope's request id: a safe one, or None (an unsafe one reads as None).
RequestIdField = Annotated[RequestIdText | None, BeforeValidator(_safe_or_none)]


class Envelope(BaseModel):
    """One integration event: metadata plus the payload as a JSON-ready dict.

    Examples:
        >>> from datetime import UTC, datetime
        >>> envelope = Envelope(
        ...     id="0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c01",
        ...     type="expiration:complete",
        ...     version=1,
        ...     occurred_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
        ...     producer="eventhive/orders@0.1.0",
        ...     data={"order_id": "0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02"},
        ... )
        >>> envelope.payload().order_id
        '0192c1a4-7e3b-7cc2-9d1e-3f6a2b9e8c02'
        >>> Envelope.from_json(envelope.to_json()) == envelope
        True
    """

    # Unknown envelope keys are ignored for the same reason as unknown payload keys: a newer
    # producer may add optional metadata (trace context, say) without breaking older consumers.
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", use_attribute_docstrings=True)

    id: EntityId
    """Event id (UUID text): the outbox row's id, the same on every redelivery."""
    type: EventTypeName
    """The subject, e.g. `order:created`."""
    version: Annotated[int, Field(ge=1)]
    """Schema version of `data` (not the entity's version)."""
    occurred_at: UtcDatetime
    """When the change committed (ISO 8601, UTC)."""
    producer: Text
    """Who published it: `eventhive/<component>@<release>`."""
    data: dict[str, Any]
    """The payload, as its model for `(type, version)` describes it."""
    request_id: RequestIdField = None
    """The id of the request that caused the event (`X-Request-ID`), to follow it through logs; absent when none."""

    def payload(self) -> Payload:
        """Validate `data` against the model registered for `(type, version)` and return it.

        Raises:
            UnknownEventType: No model is registered for this type and version.
            InvalidEnvelope: `data` does not match the model.
        """
        model = payload_model(self.type, self.version)
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            detail = describe_validation_error(exc, prefix="data.")
            raise InvalidEnvelope(
                f"Event {self.id} ({self.type} v{self.version}) has invalid data: {detail}. "
                "The producer does not follow the published schema; see `eventhive schemas`."
            ) from exc

    def to_json(self) -> str:
        """Return the envelope as compact JSON text (datetimes as ISO 8601 UTC).

        An envelope without a request id is written without the key, exactly as before it existed.
        """
        return self.model_dump_json(exclude={"request_id"} if self.request_id is None else None)

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Parse an envelope from JSON text; `data` is checked only for being an object.

        Raises:
            InvalidEnvelope: The text is not JSON or not a well-formed envelope.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InvalidEnvelope(f"Not a valid event envelope: {describe_validation_error(exc)}") from exc


def request_id_in(body: str | bytes) -> str | None:
    """Return the request id of an envelope's JSON text without validating the rest (None when absent or unsafe).

    For logging only, where a full parse of every published event would cost too much.

    Examples:
        >>> request_id_in('{"id": "x", "request_id": "checkout-1"}'), request_id_in('{"id": "x"}')
        ('checkout-1', None)
        >>> request_id_in("not json") is None
        True
    """
    try:
        head = json.loads(body)
    except ValueError:
        return None
    found = head.get("request_id") if isinstance(head, dict) else None
    return sanitize_request_id(found) if isinstance(found, str) else None


def payload_model(event_type: str, version: int) -> type[Payload]:
    """Return the payload model registered for `(event_type, version)`.

    Raises:
        UnknownEventType: Nothing is registered under that pair; the message names the known ones.
    """
    try:
        return PAYLOADS[(event_type, version)]
    except KeyError:
        known = ", ".join(f"{name} v{number}" for name, number in sorted(PAYLOADS))
        hint = (
            "it may come from a newer producer; upgrade this consumer"
            if any(name == event_type for name, _ in PAYLOADS)
            else "it is not an EventHive event"
        )
        raise UnknownEventType(
            f"Unknown event type {event_type!r} version {version} ({hint}). Known: {known}."
        ) from None
