"""Commands: one frozen dataclass per use case, named in the imperative.

Fields carry raw input where the service layer validates it (title, price, email), so every
rule lives in one place and reports all failures at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


class Command:
    """Marker base class of every command."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SignUp(Command):
    """Create an account and sign it in."""

    email: str
    password: str


@dataclass(frozen=True, slots=True)
class SignIn(Command):
    """Check credentials and issue a token."""

    email: str
    password: str


@dataclass(frozen=True, slots=True)
class SignOut(Command):
    """Revoke a token until it would have expired."""

    token: str


@dataclass(frozen=True, slots=True)
class BanUser(Command):
    """Ban a user: they cannot sign in and their tokens are refused everywhere."""

    email: str


@dataclass(frozen=True, slots=True)
class CreateTicket(Command):
    """List a ticket for sale."""

    owner_id: str
    title: str
    price: Decimal | int | float | str
    capacity: int = 1
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateTicket(Command):
    """Change a ticket's title, price or capacity (owner only, never while a unit is held)."""

    ticket_id: str
    actor_id: str
    title: str | None = None
    price: Decimal | int | float | str | None = None
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class PlaceOrder(Command):
    """Reserve units of a ticket for a buyer.

    Attributes:
        idempotency_key: The client's key for this order (1 to 255 printable ASCII characters),
            per buyer. The order records it in the same transaction that places it, so the same
            key again returns that order, marked as replayed, instead of placing another; a
            refusal is given again while ``idempotency_ttl`` runs (see ``service_layer.orders``).
    """

    buyer_id: str
    ticket_id: str
    quantity: int = 1
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder(Command):
    """The buyer gives up an unpaid order."""

    order_id: str
    actor_id: str


@dataclass(frozen=True, slots=True)
class ExpireOrder(Command):
    """Cancel an order whose hold ran out (idempotent).

    The Hive sends it to its message bus from ``hive.expire(order_id)``. Sending it yourself with
    ``hive.handle`` is deprecated (a DeprecationWarning; removed in the next release).
    """

    order_id: str


@dataclass(frozen=True, slots=True)
class SweepExpired(Command):
    """Expire every due hold, in batches of ``batch_size``.

    The Hive sends it to its message bus from ``hive.sweep(batch_size)``. Sending it yourself with
    ``hive.handle`` is deprecated (a DeprecationWarning; removed in the next release).
    """

    batch_size: int = 500


@dataclass(frozen=True, slots=True)
class PayOrder(Command):
    """Charge the buyer for an order with a provider token."""

    order_id: str
    actor_id: str
    token: str


@dataclass(frozen=True, slots=True)
class RefundOrder(Command):
    """The seller gives a buyer's money back: the order is cancelled and its units are free again."""

    order_id: str
    actor_id: str


@dataclass(frozen=True, slots=True)
class ReceivePaymentEvent(Command):
    """Apply a payment provider's webhook: verify its signature, then settle what it reports.

    Attributes:
        provider: The provider named in the webhook's URL (``stripe``).
        payload: The request body exactly as received (signatures cover these bytes).
        headers: The request headers, names in lower case.
    """

    provider: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
