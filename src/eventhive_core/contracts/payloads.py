"""Payload models: the `data` of an envelope, one pydantic model per event type and schema version.

Fields mirror the domain events in `eventhive_core.domain.events` one to one, with snake_case keys.
Integers and strings are strict (`"5"` is not a quantity, `true` is not a version); datetimes must
carry a timezone and are normalised to UTC.

Forward compatibility: every model ignores keys it does not know (`extra="ignore"`). A producer one
release ahead may add an optional field within the same schema version, and a consumer built before
that field existed must still accept the message, so unknown keys are dropped rather than refused.
The price is that a misspelt key would also be dropped silently; that cannot happen on our side,
because producers build `data` from the domain event through the same model, and it is why
removing or renaming a field always needs a new version (the snapshot tests enforce it): an old
consumer would otherwise miss a field it relies on without any error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

#: Canonical UUID text, as `eventhive_core.domain.ids.new_id` produces it.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _refuse_non_text_datetimes(value: object) -> object:
    # Lax datetime parsing would read a number as a Unix timestamp; on the wire a datetime is ISO 8601 text.
    if isinstance(value, datetime | str):
        return value
    raise ValueError("must be an ISO 8601 date-time string with a timezone")


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: An aware datetime, accepted as ISO 8601 text or a datetime, normalised to UTC.
UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_refuse_non_text_datetimes),
    AfterValidator(_as_utc),
    Field(strict=False),
]
#: An EventHive id (UUID text).
EntityId = Annotated[str, StringConstraints(pattern=UUID_PATTERN), Field(json_schema_extra={"format": "uuid"})]
#: An upper-case ISO 4217 currency code.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
#: An amount in the currency's minor units (cents for USD).
MinorUnits = Annotated[int, Field(ge=0)]
#: An entity's optimistic-concurrency version (0 when created, +1 per change).
EntityVersion = Annotated[int, Field(ge=0)]
#: A count of units.
Units = Annotated[int, Field(ge=1)]
#: Non-empty text.
Text = Annotated[str, StringConstraints(min_length=1)]


class Payload(BaseModel):
    """Base class of every payload model: frozen, strict, and tolerant of unknown keys."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", use_attribute_docstrings=True)

    #: The subject this model describes, e.g. `order:created`.
    event_type: ClassVar[str] = ""
    #: The schema version of `data` this model describes.
    schema_version: ClassVar[int] = 0


class TicketCreatedV1(Payload):
    """A ticket was listed (`ticket:created`, version 1)."""

    event_type: ClassVar[str] = "ticket:created"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The ticket's id."""
    version: EntityVersion
    """The ticket's version after this change (0 when created)."""
    title: Text
    """What is sold."""
    price_minor: MinorUnits
    """Price of one unit in minor units."""
    currency: Currency
    """Currency of the price."""
    capacity: Units
    """How many units can be sold in all."""
    owner_id: EntityId
    """The seller's user id."""


class TicketUpdatedV1(Payload):
    """A ticket's title, price or capacity changed (`ticket:updated`, version 1)."""

    event_type: ClassVar[str] = "ticket:updated"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The ticket's id."""
    version: EntityVersion
    """The ticket's version after this change."""
    title: Text
    """What is sold."""
    price_minor: MinorUnits
    """Price of one unit in minor units."""
    currency: Currency
    """Currency of the price."""
    capacity: Units
    """How many units can be sold in all."""
    owner_id: EntityId
    """The seller's user id."""


#: Order statuses, spelled as `eventhive_core.domain.order.OrderStatus` spells them.
OrderStatusText = Literal["created", "awaiting:payment", "complete", "cancelled"]
#: Why an order was cancelled, as `eventhive_core.domain.order.CancelReason` spelt it in version 1.
CancelReasonText = Literal["buyer", "expired"]
#: Why an order was cancelled, as `eventhive_core.domain.order.CancelReason` spells it (version 2 on).
CancelReasonTextV2 = Literal["buyer", "expired", "refunded"]
#: Why the orders service refused a payment, spelt as the `payment:refunded` reason the payments service
#: then refunds it with (`eventhive_core.service_layer.settlement.RefundReason`). A closed set, as for
#: cancellations: a consumer maps each value to a refund, so a new one needs a new version.
PaymentRefusalReasonText = Literal["order_not_live", "already_paid"]


class OrderCreatedV1(Payload):
    """Units were reserved for a buyer (`order:created`, version 1)."""

    event_type: ClassVar[str] = "order:created"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The order's id."""
    version: EntityVersion
    """The order's version (0 when created)."""
    status: OrderStatusText
    """`created`, or `complete` for a replacement order born paid."""
    buyer_id: EntityId
    """The buyer's user id."""
    ticket_id: EntityId
    """The ticket reserved."""
    quantity: Units
    """Units held."""
    expires_at: UtcDatetime
    """When the hold runs out (ISO 8601, UTC)."""
    amount_minor: MinorUnits
    """Price times quantity, in minor units."""
    currency: Currency
    """Currency of the amount."""


class OrderCancelledV1(Payload):
    """An order was cancelled by its buyer or by expiry (`order:cancelled`, version 1)."""

    event_type: ClassVar[str] = "order:cancelled"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The order's id."""
    version: EntityVersion
    """The order's version after cancelling."""
    ticket_id: EntityId
    """The ticket whose units are free again."""
    quantity: Units
    """Units released."""
    reason: CancelReasonText
    """Who cancelled it: `buyer`, or `expired` when the hold ran out."""


class OrderCancelledV2(Payload):
    """An order was cancelled by its buyer, by expiry, or by a refund (`order:cancelled`, version 2).

    Version 2 adds the reason `refunded`: a seller refunded a complete order, whose sold units
    are free again. A new enum value is not an additive change (a version-1 consumer would
    refuse it), hence the new version; version 1 upcasts unchanged.
    """

    event_type: ClassVar[str] = "order:cancelled"
    schema_version: ClassVar[int] = 2

    id: EntityId
    """The order's id."""
    version: EntityVersion
    """The order's version after cancelling."""
    ticket_id: EntityId
    """The ticket whose units are free again."""
    quantity: Units
    """Units released (held ones, or sold ones for a refund)."""
    reason: CancelReasonTextV2
    """Why: `buyer`, `expired` when the hold ran out, or `refunded` when the seller gave the money back."""


class OrderCompletedV1(Payload):
    """An order was paid: its units are sold (`order:completed`, version 1)."""

    event_type: ClassVar[str] = "order:completed"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The order's id."""
    version: EntityVersion
    """The order's version after completing."""
    ticket_id: EntityId
    """The ticket whose units are sold."""
    quantity: Units
    """Units sold."""
    payment_id: EntityId
    """The payment that completed the order."""


class OrderPaymentRefusedV1(Payload):
    """The orders service would not take a payment for an order (`order:payment_refused`, version 1).

    The payments service refunds it.
    """

    event_type: ClassVar[str] = "order:payment_refused"
    schema_version: ClassVar[int] = 1

    order_id: EntityId
    """The order the payment was for."""
    payment_id: EntityId
    """The payment refused: the payments service refunds it."""
    reason: PaymentRefusalReasonText
    """Why: `order_not_live` (the hold was over and the late-payment policy did not keep the money) or
    `already_paid` (another payment had completed the order)."""


class ExpirationCompleteV1(Payload):
    """An order's hold ran out and the order was cancelled for it (`expiration:complete`, version 1)."""

    event_type: ClassVar[str] = "expiration:complete"
    schema_version: ClassVar[int] = 1

    order_id: EntityId
    """The expired order."""


class ExpirationDueV1(Payload):
    """The expiration service's timer for an order's hold ran out (`expiration:due`, version 1).

    The orders service expires the order if its hold is over by its own clock.
    """

    event_type: ClassVar[str] = "expiration:due"
    schema_version: ClassVar[int] = 1

    order_id: EntityId
    """The order whose hold ran out."""
    due_at: UtcDatetime
    """When the hold ends, as the expiration service's replica of the order has it (ISO 8601, UTC)."""


class PaymentCreatedV1(Payload):
    """A charge succeeded and its order completed (`payment:created`, version 1)."""

    event_type: ClassVar[str] = "payment:created"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The payment's id."""
    order_id: EntityId
    """The order paid."""
    provider: Text
    """Name of the payment provider (`fake`, `stripe`, a plugin's name)."""
    provider_ref: str
    """The provider's id for the charge (empty only if the provider gave none)."""
    amount_minor: MinorUnits
    """Amount charged, in minor units."""
    currency: Currency
    """Currency of the amount."""


class PaymentRefundedV1(Payload):
    """Money was given back (`payment:refunded`, version 1)."""

    event_type: ClassVar[str] = "payment:refunded"
    schema_version: ClassVar[int] = 1

    id: EntityId
    """The payment's id."""
    order_id: EntityId
    """The order the payment was for."""
    provider: Text
    """Name of the payment provider."""
    provider_ref: str
    """The provider's id for the charge (empty only if the provider gave none)."""
    amount_minor: MinorUnits
    """Amount refunded, in minor units."""
    currency: Currency
    """Currency of the amount."""
    reason: Text
    """Why the money was given back: `order_not_live` (it arrived after the hold ran out), `already_paid`
    (another payment had completed the order), `attempt_abandoned` (an attempt given up for another card
    succeeded anyway), `seller` (the seller refunded the order) or `provider` (a refund made at the
    provider directly, e.g. in its dashboard)."""


class UserBannedV1(Payload):
    """A user was banned (`user:banned`, version 1)."""

    event_type: ClassVar[str] = "user:banned"
    schema_version: ClassVar[int] = 1

    user_id: EntityId
    """The banned user."""
    banned_at: UtcDatetime
    """When the ban took effect (ISO 8601, UTC)."""


class UserSignedOutV1(Payload):
    """A user signed out, revoking one token (`user:signed_out`, version 1)."""

    event_type: ClassVar[str] = "user:signed_out"
    schema_version: ClassVar[int] = 1

    user_id: EntityId
    """The user who signed out."""
    token_id: Text
    """The revoked token's id (its `jti` claim)."""
    expires_at: UtcDatetime
    """When the token would have expired (ISO 8601, UTC); it need not be refused after that."""


#: Every payload model by `(event type, schema version)`. Consumers accept every version listed here.
PAYLOADS: dict[tuple[str, int], type[Payload]] = {
    (model.event_type, model.schema_version): model
    for model in (
        TicketCreatedV1,
        TicketUpdatedV1,
        OrderCreatedV1,
        OrderCancelledV1,
        OrderCancelledV2,
        OrderCompletedV1,
        OrderPaymentRefusedV1,
        ExpirationCompleteV1,
        ExpirationDueV1,
        PaymentCreatedV1,
        PaymentRefundedV1,
        UserBannedV1,
        UserSignedOutV1,
    )
}
