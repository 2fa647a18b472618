"""Event contracts: the versioned pydantic envelope and one payload model per event type and version.

Domain events stay plain dataclasses; this package is the edge where they become JSON for the
outbox and the bus (`to_envelope`, `to_message`) and where consumers read them back
(`parse_message`, `to_domain_event`). `json_schemas()` exports the contract for other languages, and
`breaking_changes()` tells whether a schema may replace another under the same version.
"""

from __future__ import annotations

from eventhive_core.contracts.codec import (
    CURRENT_VERSION,
    UPCASTERS,
    Upcaster,
    json_schemas,
    parse_message,
    schema_file_name,
    to_domain_event,
    to_envelope,
    to_message,
)
from eventhive_core.contracts.compatibility import breaking_changes
from eventhive_core.contracts.envelope import Envelope, payload_model
from eventhive_core.contracts.errors import EventContractError, InvalidEnvelope, UnknownEventType
from eventhive_core.contracts.payloads import (
    PAYLOADS,
    ExpirationCompleteV1,
    ExpirationDueV1,
    OrderCancelledV1,
    OrderCancelledV2,
    OrderCompletedV1,
    OrderCreatedV1,
    OrderPaymentRefusedV1,
    Payload,
    PaymentCreatedV1,
    PaymentRefundedV1,
    TicketCreatedV1,
    TicketUpdatedV1,
    UserBannedV1,
    UserSignedOutV1,
)

__all__ = [
    "CURRENT_VERSION",
    "PAYLOADS",
    "UPCASTERS",
    "Envelope",
    "EventContractError",
    "ExpirationCompleteV1",
    "ExpirationDueV1",
    "InvalidEnvelope",
    "OrderCancelledV1",
    "OrderCancelledV2",
    "OrderCompletedV1",
    "OrderCreatedV1",
    "OrderPaymentRefusedV1",
    "Payload",
    "PaymentCreatedV1",
    "PaymentRefundedV1",
    "TicketCreatedV1",
    "TicketUpdatedV1",
    "UnknownEventType",
    "Upcaster",
    "UserBannedV1",
    "UserSignedOutV1",
    "breaking_changes",
    "json_schemas",
    "parse_message",
    "payload_model",
    "schema_file_name",
    "to_domain_event",
    "to_envelope",
    "to_message",
]
