"""Request and response models of the JSON API, camelCase as the original's bodies.

Request models only *shape* input: a value of the wrong type becomes a blank the core refuses
with the original's message for that field, so every rule lives once, in the core, and a body
with several problems gets every one of them back at once (as express-validator did). Response
models are built from the core's views; ``price`` stays a JSON number with its decimals.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from eventhive_core import OrderView, PaymentView, TicketSummary, TicketView
from eventhive_core.ports.auth import IssuedToken


def _text_or_blank(value: object) -> object:
    return value if isinstance(value, str) else ""


def _price_or_blank(value: object) -> object:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return Decimal(str(value))
    return value if isinstance(value, Decimal | str) else ""


def _whole_or_zero(value: object) -> object:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Decimal) -> int | float:
    # Prices have at most 3 decimals and at most 7 integer digits, so the shortest float repr
    # prints exactly the decimal's digits; whole amounts print as integers, like the original.
    return int(value) if value == value.to_integral_value() else float(value)


#: Text input; anything else becomes "" (refused by the core with the field's message).
Text = Annotated[str, BeforeValidator(_text_or_blank)]
#: A price as sent: a JSON number (parsed as Decimal) or numeric text like the original client's "10.00".
PriceIn = Annotated[
    Decimal | str,
    BeforeValidator(_price_or_blank),
    WithJsonSchema({"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*$"}]}),
]
#: A whole number; anything else becomes 0 (refused by the core).
Whole = Annotated[int, BeforeValidator(_whole_or_zero)]
#: A decimal amount written as a JSON number.
Price = Annotated[
    Decimal,
    PlainSerializer(_number, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000}),
]


class CamelModel(BaseModel):
    """Base of every API model: camelCase names on the wire, unknown input fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# --- requests ------------------------------------------------------------------------------------


class CredentialsIn(CamelModel):
    """Body of sign-up, sign-in and token requests."""

    email: Text = ""
    password: Text = ""


class TicketIn(CamelModel):
    """Body of ``POST /api/tickets`` and ``PUT /api/tickets/<id>`` (title and price required, as in the original)."""

    title: Text = ""
    price: PriceIn = ""
    capacity: Whole | None = Field(default=None, json_schema_extra={"minimum": 1, "maximum": 1_000_000})


class OrderIn(CamelModel):
    """Body of ``POST /api/orders``."""

    ticket_id: Text = ""
    quantity: Whole = Field(default=1, json_schema_extra={"minimum": 1})


class PaymentIn(CamelModel):
    """Body of ``POST /api/payments``: the order and the provider token (``tok_visa`` on the fake provider)."""

    order_id: Text = ""
    token: Text = ""


# --- responses -----------------------------------------------------------------------------------


class UserOut(CamelModel):
    """A user, as sign-up and sign-in return it (never the password)."""

    email: str
    id: str


class CurrentUser(CamelModel):
    """The signed-in user as ``GET /api/users/currentuser`` shows it."""

    id: str
    email: str
    iat: int = Field(description="When the token was issued (Unix seconds).")


class CurrentUserOut(CamelModel):
    """``{"currentUser": {...}}``, or ``{"currentUser": null}`` without a valid token."""

    current_user: CurrentUser | None


class TokenOut(CamelModel):
    """A Bearer token for non-browser clients."""

    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme name)
    expires_at: datetime

    @classmethod
    def from_issued(cls, issued: IssuedToken) -> TokenOut:
        """Build from a freshly issued token."""
        return cls(token=issued.token, expires_at=issued.claims.expires_at)


class TicketOut(CamelModel):
    """A ticket: the original's fields plus ``capacity`` and ``available`` (units free now)."""

    id: str
    title: str
    price: Price
    user_id: str
    version: int
    capacity: int
    available: int

    @classmethod
    def from_view(cls, view: TicketView) -> TicketOut:
        """Build from the core's view."""
        return cls(
            id=view.id,
            title=view.title,
            price=view.price.to_decimal(),
            user_id=view.owner_id,
            version=view.version,
            capacity=view.capacity,
            available=view.available,
        )


class OrderTicketOut(CamelModel):
    """The ticket inside an order."""

    id: str
    title: str
    price: Price
    version: int

    @classmethod
    def from_summary(cls, summary: TicketSummary) -> OrderTicketOut:
        """Build from the core's summary."""
        return cls(id=summary.id, title=summary.title, price=summary.price.to_decimal(), version=summary.version)


class OrderOut(CamelModel):
    """An order: the original's fields plus ``quantity``."""

    id: str
    user_id: str
    status: Literal["created", "awaiting:payment", "complete", "cancelled"]
    expires_at: datetime
    ticket: OrderTicketOut
    version: int
    quantity: int

    @classmethod
    def from_view(cls, view: OrderView) -> OrderOut:
        """Build from the core's view."""
        return cls(
            id=view.id,
            user_id=view.buyer_id,
            status=str(view.status),
            expires_at=view.expires_at,
            ticket=OrderTicketOut.from_summary(view.ticket),
            version=view.version,
            quantity=view.quantity,
        )


class PaymentOut(CamelModel):
    """A payment: ``stripeId`` is the provider's reference, as in the original."""

    id: str
    order_id: str
    stripe_id: str | None
    status: Literal["pending", "succeeded", "failed", "refunded"]
    client_secret: str | None = Field(
        default=None, description="Only while the buyer must authenticate (3-D Secure) to finish the charge."
    )

    @model_serializer(mode="wrap")
    def _without_empty_secret(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        if data.get("clientSecret", data.get("client_secret")) is None:
            data.pop("clientSecret", None)
            data.pop("client_secret", None)
        return data

    @classmethod
    def from_view(cls, view: PaymentView) -> PaymentOut:
        """Build from the core's view."""
        return cls(
            id=view.id,
            order_id=view.order_id,
            stripe_id=view.provider_ref,
            status=view.status,
            client_secret=view.client_secret,
        )


class WebhookOut(CamelModel):
    """The answer to a provider's webhook: received, and what it did."""

    received: Literal[True] = True
    outcome: Literal["applied", "duplicate", "ignored"] = Field(
        description="applied: settled; duplicate: this event id was processed before; ignored: nothing to act on."
    )


class HealthOut(CamelModel):
    """``GET /api/health``."""

    status: Literal["ok"] = "ok"
    version: str


class ErrorEntry(BaseModel):
    """One error: a message, and the field for validation errors."""

    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """Every error body: ``{"errors": [{"message", "field"?}]}``."""

    errors: list[ErrorEntry]


class EmptyOut(CamelModel):
    """``{}`` (sign-out)."""


__all__ = [
    "CamelModel",
    "CredentialsIn",
    "CurrentUser",
    "CurrentUserOut",
    "EmptyOut",
    "ErrorEntry",
    "ErrorOut",
    "HealthOut",
    "OrderIn",
    "OrderOut",
    "OrderTicketOut",
    "PaymentIn",
    "PaymentOut",
    "Price",
    "PriceIn",
    "Text",
    "TicketIn",
    "TicketOut",
    "TokenOut",
    "UserOut",
    "WebhookOut",
    "Whole",
]
