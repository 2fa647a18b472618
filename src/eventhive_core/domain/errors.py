"""The error tree: each error knows its HTTP-like status and serialises to the original's shape.

Every error renders as ``{"errors": [{"message": ..., "field": ...}]}`` with ``field`` only on
validation errors, exactly like the original's ``@eventhive/common`` errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from eventhive_core.deprecation import deprecated_names


@dataclass(frozen=True, slots=True)
class FieldError:
    """One failing validation rule.

    Attributes:
        message: What is wrong, in the original's words where it had them.
        field: The name of the input field (camelCase, as clients send it).
    """

    message: str
    field: str


class EventHiveError(Exception):
    """Base class of every error EventHive raises on purpose.

    Attributes:
        status_code: The HTTP status an edge should answer with.
        message: The public message (safe to show to the caller).
    """

    status_code: int = 500
    message: str = "Something went wrong"

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def serialize(self) -> list[dict[str, str]]:
        """Return the ``errors`` list of the original's error body."""
        return [{"message": self.message}]

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        """Return the whole error body, ``{"errors": [...]}``."""
        return {"errors": self.serialize()}


class ValidationFailed(EventHiveError):
    """One or more inputs break a rule; one entry per failing rule (400)."""

    status_code = 400
    message = "Invalid request parameters"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__()

    def serialize(self) -> list[dict[str, str]]:
        """Return one ``{"message", "field"}`` entry per failing rule."""
        return [{"message": e.message, "field": e.field} for e in self.errors]


class BadRequest(EventHiveError):
    """The request is well-formed but cannot be carried out (400)."""

    status_code = 400


class EmailInUse(BadRequest):
    """Someone already signed up with this email."""

    message = "Email already in use"


class InvalidCredentials(BadRequest):
    """Unknown email or wrong password (deliberately indistinguishable)."""

    message = "Invalid credentials"


class CannotEditReservedTicket(BadRequest):
    """The owner tried to edit a ticket while some unit of it is held."""

    message = "Cannot edit a reserved ticket"


class SoldOut(BadRequest):
    """Not enough free units of the ticket for this order."""

    message = "Ticket is already reserved"


class CannotOrderOwnTicket(BadRequest):
    """A seller tried to buy their own ticket (an addition to the original)."""

    message = "You cannot order your own ticket"


class CannotPayCancelledOrder(BadRequest):
    """Payment for an order that is cancelled (or whose hold just ran out).

    Not the event :class:`~eventhive_core.domain.events.OrderCancelled`: this is the refusal to pay.
    """

    message = "Order is already cancelled. Cannot make payment."


class CannotCancelCompleteOrder(BadRequest):
    """The buyer tried to cancel an order that is already paid."""

    message = "Cannot cancel a complete order"


class OrderAlreadyPaid(BadRequest):
    """The buyer tried to pay an order that is already complete."""

    message = "Order is already paid"


class PaymentDeclined(BadRequest):
    """The payment provider refused the charge; the order stays open for another try."""

    message = "Your payment was declined. Try another card."


class AmountBelowMinimum(BadRequest):
    """The order's amount is below the smallest charge the payment provider accepts (400).

    Args:
        minimum: The provider's minimum, as text with its currency (``0.50 USD``).
    """

    def __init__(self, minimum: str) -> None:
        self.minimum = minimum
        super().__init__(f"The amount is below the payment provider's minimum charge of {minimum}")


class PaymentRefused(BadRequest):
    """The payment provider refused the request itself (not the card); nothing was charged (400)."""

    message = "The payment provider refused this payment"


class OrderNotComplete(BadRequest):
    """A seller asked to refund an order that is not paid (400)."""

    message = "Only a complete order can be refunded"


class WebhookRejected(BadRequest):
    """A provider webhook without a valid, fresh signature, or not a readable event (400); nothing changed."""

    message = "Webhook signature verification failed"


class NotAuthorized(EventHiveError):
    """No valid identity, or not the owner of the thing (401)."""

    status_code = 401
    message = "Not authorized"


class NotFound(EventHiveError):
    """Unknown id, or an id of the wrong shape (404)."""

    status_code = 404
    message = "Not Found"


class ConcurrencyConflict(EventHiveError):
    """A stale write lost against a concurrent one; retried, then reported (409)."""

    status_code = 409
    message = "This changed while we were saving it; reload and try again"


class PaymentInProgress(EventHiveError):
    """Another pay request for this order is talking to the provider right now (409)."""

    status_code = 409
    message = "A payment for this order is in progress"


class IdempotencyKeyInFlight(EventHiveError):
    """A request with the same Idempotency-Key is still running (409)."""

    status_code = 409
    message = "A request with this Idempotency-Key is still being processed; retry later"


class IdempotencyKeyReused(EventHiveError):
    """The same Idempotency-Key came with a different request body (422)."""

    status_code = 422
    message = "This Idempotency-Key was used with a different request; use a new key"


class ReplayedRefusal(EventHiveError):
    """The refusal a request with this Idempotency-Key got before, given again unchanged.

    It carries the first refusal's status and body exactly, whatever error that was (sold out,
    not found, invalid input...), so an edge answers a retry just as it answered the first try.

    Args:
        status_code: The status of the first refusal.
        body: Its error body as JSON text, ``{"errors": [...]}`` (what ``to_dict()`` returned).
    """

    def __init__(self, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body
        self._errors = _errors_in(body)
        super().__init__(self._errors[0].get("message") if self._errors else None)

    def serialize(self) -> list[dict[str, str]]:
        """Return the first refusal's ``errors`` list."""
        return self._errors or super().serialize()


def _errors_in(body: str) -> list[dict[str, str]]:
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        return []
    return errors if isinstance(errors, list) and all(isinstance(e, dict) for e in errors) else []


class TransientStorageError(EventHiveError):
    """The storage is briefly unavailable; the caller may retry (503)."""

    status_code = 503
    message = "Service temporarily unavailable; retry shortly"


class ConfigurationError(EventHiveError):
    """The settings or the plugin set are wrong; raised at start, never mid-request."""

    status_code = 500


class SigningKeyMissing(ConfigurationError):
    """This Hive verifies tokens with the public key alone, so it cannot issue one (500).

    A service that only checks tokens holds ``EVENTHIVE_JWT_PUBLIC_KEY``; signing up and signing
    in belong to the service that holds ``EVENTHIVE_JWT_PRIVATE_KEY``.
    """

    message = (
        "This Hive has no private key, so it can verify tokens but not issue them: "
        "set EVENTHIVE_JWT_PRIVATE_KEY, or sign users up and in on the service that holds it"
    )


class RoleMismatch(ConfigurationError):
    """A service of a split platform was started on a database that belongs to another (raised at start).

    Attributes:
        database: Where the database is (its URL, password hidden).
        owner: The service the database belongs to (None: no service, the whole platform's).
        role: The service that was starting (None: the whole platform).
    """

    def __init__(self, database: str, owner: str | None, role: str | None) -> None:
        self.database, self.owner, self.role = database, owner, role
        whose = f"the {owner} service" if owner else "the whole platform (eventhive serve)"
        starting = f"the {role} service" if role else "the whole platform"
        super().__init__(
            f"The database {database} belongs to {whose}, so {starting} will not start on it: "
            "each service of a split has a database of its own (EVENTHIVE_DATABASE_URL)"
        )


class NotThisService(ConfigurationError):
    """A service of a split was given a command another service carries out (a programming error, 500).

    Attributes:
        command: The command's name, e.g. ``PlaceOrder``.
        role: The service it was given to.
        owner: The service that carries it out.
    """

    def __init__(self, command: str, role: str, owner: str) -> None:
        self.command, self.role, self.owner = command, role, owner
        super().__init__(f"The {role} service does not carry out {command}: the {owner} service does")


class PaymentProviderUnavailable(EventHiveError):
    """The payment provider could not be reached; nothing was charged and the buyer may retry (502)."""

    status_code = 502
    message = "The payment provider is unavailable; try again shortly"


#: Errors renamed to read as refusals, old name to new; the old names still work for one release.
RENAMED: dict[str, str] = {
    "TicketReserved": "CannotEditReservedTicket",
    "OwnTicket": "CannotOrderOwnTicket",
    "OrderCancelled": "CannotPayCancelledOrder",
    "OrderComplete": "CannotCancelCompleteOrder",
}


__getattr__ = deprecated_names(
    __name__, {old: (globals()[new], f"eventhive_core.domain.errors.{new}") for old, new in RENAMED.items()}
)
