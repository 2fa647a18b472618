"""Request and response models of the JSON API, camelCase as the original's bodies.

Request models only *shape* input: a value of the wrong type becomes a blank the core refuses
with the original's message for that field, so every rule lives once, in the core, and a body
with several problems gets every one of them back at once (as express-validator did). Their JSON
schemas state those same rules from the core's constants and patterns, so the OpenAPI document
says exactly what the server accepts. Response models are built from the core's views;
``price`` stays a JSON number with its decimals.

A few schemas depend on the server's settings (the currency's decimals, the most units per
order); fields refer to them as ``#/components/schemas/<name>`` and ``eventhive_flask.openapi``
defines them for the running server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

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
from eventhive_core.domain.ids import ID_PATTERN
from eventhive_core.domain.validation import (
    EMAIL_PATTERN,
    MAX_CAPACITY,
    MAX_EMAIL_LENGTH,
    MAX_TITLE_LENGTH,
    MIN_PASSWORD,
    NOT_BLANK_PATTERN,
    SIGN_UP_PASSWORD_PATTERN,
    TITLE_PATTERN,
)
from eventhive_core.ports.auth import IssuedToken

#: Where the settings-dependent schemas live in the OpenAPI document.
REF = "#/components/schemas/{model}"

#: The largest whole number a JSON number with a fraction part of zero is read as (anything larger
#: breaks every rule anyway, and is never expanded into digits).
_LARGEST_WHOLE = Decimal(10) ** 18


def _text_or_blank(value: object) -> object:
    return value if isinstance(value, str) else ""


def _price_or_blank(value: object) -> object:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return Decimal(str(value))
    return value if isinstance(value, Decimal | str) else ""


def _whole_or_zero(value: object) -> object:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    # JSON Schema counts 2.0 as an integer, and so does the API (the body parser reads it as a Decimal).
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value) if abs(value) <= _LARGEST_WHOLE else 0
    return 0


def _number(value: Decimal) -> int | float:
    # Prices have at most 3 decimals and at most 7 integer digits, so the shortest float repr
    # prints exactly the decimal's digits; whole amounts print as integers, like the original.
    return int(value) if value == value.to_integral_value() else float(value)


def _ref(name: str) -> dict[str, Any]:
    # Wrapped in allOf: pydantic resolves a bare $ref against its own definitions, and these are the document's.
    return {"allOf": [{"$ref": REF.format(model=name)}]}


#: Text input; anything else becomes "" (refused by the core with the field's message).
Text = Annotated[str, BeforeValidator(_text_or_blank)]
#: A price as sent: a JSON number (parsed as Decimal) or numeric text like the original client's "10.00".
PriceIn = Annotated[Decimal | str, BeforeValidator(_price_or_blank)]
#: A whole number; anything else becomes 0 (refused by the core).
Whole = Annotated[int, BeforeValidator(_whole_or_zero)]
#: A decimal amount written as a JSON number.
Price = Annotated[
    Decimal, PlainSerializer(_number, return_type=int | float, when_used="json"), WithJsonSchema(_ref("Price"))
]
#: An EventHive id in a response.
Id = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


def _exactly(schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` that makes the generated schema exactly ``schema`` (no title, no default)."""

    def replace(generated: dict[str, Any]) -> None:
        generated.clear()
        generated.update(schema)

    return replace


def _field(value: object, **schema: object) -> Any:
    """A field defaulting to ``value`` whose JSON schema is exactly ``schema``.

    The default is the server's way to read a missing field; the document shows one only where
    the schema names it.
    """
    return Field(default=value, json_schema_extra=_exactly(dict(schema)))


def _requires(*names: str) -> ConfigDict:
    """Model config listing the fields the document requires."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = list(names)

    return ConfigDict(json_schema_extra=extra)


class CamelModel(BaseModel):
    """Base of every API model: camelCase names on the wire, unknown input fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# --- requests ------------------------------------------------------------------------------------
#
# A missing field is read as a blank, so that the core reports it with its own message (a 400
# like any other invalid value); the document lists it as required all the same.

_EMAIL = {"type": "string", "maxLength": MAX_EMAIL_LENGTH, "pattern": EMAIL_PATTERN}


class CredentialsIn(CamelModel):
    """Body of sign-in and token requests: an email and a password that is not blank."""

    model_config = _requires("email", "password")

    email: Text = _field("", **_EMAIL)
    password: Text = _field("", type="string", minLength=1, pattern=NOT_BLANK_PATTERN)


class SignUpIn(CamelModel):
    """Body of a sign-up: an email and a password of 4 to 20 characters (not counting whitespace around it)."""

    model_config = _requires("email", "password")

    email: Text = _field("", **_EMAIL)
    password: Text = _field("", type="string", minLength=MIN_PASSWORD, pattern=SIGN_UP_PASSWORD_PATTERN)


class TicketIn(CamelModel):
    """Body of ``POST /api/tickets`` and ``PUT /api/tickets/<id>`` (title and price required, as in the original)."""

    model_config = _requires("title", "price")

    title: Text = _field("", type="string", minLength=1, maxLength=MAX_TITLE_LENGTH, pattern=TITLE_PATTERN)
    price: PriceIn = _field("", **_ref("PriceIn"))
    capacity: Whole | None = _field(
        None,
        anyOf=[{"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY}, {"type": "null"}],
        description="Units for sale; absent or null: 1 for a new ticket, unchanged on an edit.",
    )


class OrderIn(CamelModel):
    """Body of ``POST /api/orders``."""

    model_config = _requires("ticketId")

    ticket_id: Text = _field("", type="string", pattern=ID_PATTERN)
    quantity: Whole = _field(1, **_ref("Quantity"), default=1)


class PaymentIn(CamelModel):
    """Body of ``POST /api/payments``: the order and the provider token (``tok_visa`` on the fake provider)."""

    model_config = _requires("orderId", "token")

    order_id: Text = _field("", type="string", pattern=ID_PATTERN, description="Any other text names no order: 404.")
    token: Text = _field("", type="string", minLength=1, pattern=NOT_BLANK_PATTERN)


class ProviderEventIn(CamelModel):
    """A payment provider's event, as it sent it: its signature header covers these exact bytes.

    Nothing but a JSON object signed with the provider's secret is accepted (400 otherwise).
    """


class NoBodyIn(CamelModel):
    """The body of a ``POST`` that needs none (sign-out, refund): optional, any JSON, never read.

    Sent with the cookie it must be JSON all the same (the CSRF rule); the original's client sends ``{}``.
    """

    model_config = ConfigDict(
        json_schema_extra=_exactly({"description": "Optional, any JSON (the original's client sends {}); never read."})
    )


# --- responses -----------------------------------------------------------------------------------


def _closed(schema: dict[str, Any]) -> None:
    schema["additionalProperties"] = False


class ResponseModel(CamelModel):
    """A response body: every field is always sent (so the document requires it) and nothing else is."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, json_schema_extra=_closed)


class UserOut(ResponseModel):
    """A user, as sign-up and sign-in return it (never the password)."""

    email: str = Field(description="The address as stored: without the whitespace around it, in lower case.")
    id: Id


class CurrentUser(ResponseModel):
    """The signed-in user as ``GET /api/users/currentuser`` shows it."""

    id: Id
    email: str
    iat: int = Field(description="When the token was issued (Unix seconds).")


class CurrentUserOut(ResponseModel):
    """``{"currentUser": {...}}``, or ``{"currentUser": null}`` without a valid token."""

    current_user: CurrentUser | None


class TokenOut(ResponseModel):
    """A Bearer token for non-browser clients."""

    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme name)
    expires_at: datetime

    @classmethod
    def from_issued(cls, issued: IssuedToken) -> TokenOut:
        """Build from a freshly issued token."""
        return cls(token=issued.token, expires_at=issued.claims.expires_at)


class TicketOut(ResponseModel):
    """A ticket: the original's fields plus its units.

    ``capacity`` is how many units it has; ``available`` how many are free now, ``held`` how many
    unpaid orders hold, ``sold`` how many complete orders bought (the three add up to
    ``capacity``, except for a moment in a split deployment whose replica is catching up).
    """

    id: Id
    title: str
    price: Price
    user_id: Id
    version: int
    capacity: int = Field(json_schema_extra={"minimum": 1, "maximum": MAX_CAPACITY})
    available: int = Field(json_schema_extra={"minimum": 0, "maximum": MAX_CAPACITY})
    held: int = Field(json_schema_extra={"minimum": 0})
    sold: int = Field(json_schema_extra={"minimum": 0})

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
            held=view.held,
            sold=view.sold,
        )


class OrderTicketOut(ResponseModel):
    """The ticket inside an order."""

    id: Id
    title: str
    price: Price
    version: int

    @classmethod
    def from_summary(cls, summary: TicketSummary) -> OrderTicketOut:
        """Build from the core's summary."""
        return cls(id=summary.id, title=summary.title, price=summary.price.to_decimal(), version=summary.version)


class OrderOut(ResponseModel):
    """An order: the original's fields plus ``quantity`` and, once cancelled, ``cancelReason``.

    ``cancelReason`` is ``buyer`` (the buyer cancelled), ``expired`` (the hold ran out unpaid) or
    ``refunded`` (the seller refunded it), and null while the order is not cancelled.
    """

    id: Id
    user_id: Id
    status: Literal["created", "awaiting:payment", "complete", "cancelled"]
    expires_at: datetime
    ticket: OrderTicketOut
    version: int
    quantity: int = Field(json_schema_extra={"minimum": 1})
    cancel_reason: Literal["buyer", "expired", "refunded"] | None

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
            cancel_reason=view.cancel_reason,
        )


def _secret_only_when_set(schema: dict[str, Any]) -> None:
    _closed(schema)
    schema["required"] = [name for name in schema["required"] if name != "clientSecret"]
    schema["properties"]["clientSecret"] = {
        "type": "string",
        "description": "Only while the buyer must authenticate (3-D Secure) to finish the charge.",
    }


class PaymentOut(ResponseModel):
    """A payment: ``stripeId`` is the provider's reference, as in the original.

    ``POST /api/payments`` answers with a charge that went through or one waiting for the buyer;
    a declined or failed charge is an error instead.
    """

    # The serializer below drops an empty secret, which hides the fields from a serialization schema.
    model_config = ConfigDict(json_schema_extra=_secret_only_when_set, json_schema_mode_override="validation")

    id: Id
    order_id: Id
    stripe_id: str | None
    status: Literal["pending", "succeeded"]
    client_secret: str | None = None

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


class WebhookOut(ResponseModel):
    """The answer to a provider's webhook: received, and what it did."""

    received: Literal[True] = True
    outcome: Literal["applied", "duplicate", "ignored"] = Field(
        description="applied: settled; duplicate: this event id was processed before; ignored: nothing to act on."
    )


class HealthOut(ResponseModel):
    """``GET /api/health``."""

    status: Literal["ok"] = "ok"
    version: str


def _message_and_maybe_field(schema: dict[str, Any]) -> None:
    _closed(schema)
    schema["required"] = ["message"]
    schema["properties"]["field"] = {
        "type": "string",
        "description": "The input the message is about (validation errors only).",
    }


class ErrorEntry(BaseModel):
    """One error: a message, and the field for validation errors."""

    model_config = ConfigDict(json_schema_extra=_message_and_maybe_field)

    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """Every error body: ``{"errors": [{"message", "field"?}]}``."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, json_schema_extra=_closed)

    errors: list[ErrorEntry] = Field(json_schema_extra={"minItems": 1})


class ReadyOut(ResponseModel):
    """``GET /api/health/ready`` when every backend answered."""

    status: Literal["ready"] = "ready"
    checks: dict[str, Literal["ok"]] = Field(
        description="Each backend checked (storage, bus, and denylist when it is in Redis) and its outcome."
    )


class NotReadyOut(ResponseModel):
    """``GET /api/health/ready`` (503) when a backend did not answer; why is logged, not sent.

    It carries ``errors`` as every error body does, so a client that reads errors reads this one.
    """

    errors: list[ErrorEntry] = Field(json_schema_extra={"minItems": 1})
    status: Literal["not_ready"] = "not_ready"
    checks: dict[str, Literal["ok", "failed", "timeout"]] = Field(
        description="Each backend checked and its outcome: ok, failed (it raised) or timeout (no answer in time)."
    )


class EmptyOut(ResponseModel):
    """``{}`` (sign-out)."""


__all__ = [
    "REF",
    "CamelModel",
    "CredentialsIn",
    "CurrentUser",
    "CurrentUserOut",
    "EmptyOut",
    "ErrorEntry",
    "ErrorOut",
    "HealthOut",
    "Id",
    "NoBodyIn",
    "NotReadyOut",
    "OrderIn",
    "OrderOut",
    "OrderTicketOut",
    "PaymentIn",
    "PaymentOut",
    "Price",
    "PriceIn",
    "ProviderEventIn",
    "ReadyOut",
    "ResponseModel",
    "SignUpIn",
    "Text",
    "TicketIn",
    "TicketOut",
    "TokenOut",
    "UserOut",
    "WebhookOut",
    "Whole",
]
