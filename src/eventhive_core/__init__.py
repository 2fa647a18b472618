"""EventHive's framework-agnostic core: sell and buy tickets without overselling.

Build a :class:`Hive` with :func:`bootstrap`, send it commands, read with ``hive.queries``::

    from eventhive_core import PlaceOrder, bootstrap

    hive = bootstrap()
"""

from __future__ import annotations

import warnings

from eventhive_core.bootstrap import bootstrap
from eventhive_core.clock import Clock, SystemClock
from eventhive_core.domain import errors as _errors
from eventhive_core.domain.commands import (
    BanUser,
    CancelOrder,
    Command,
    CreateTicket,
    ExpireOrder,
    PayOrder,
    PlaceOrder,
    ReceivePaymentEvent,
    RefundOrder,
    SignIn,
    SignOut,
    SignUp,
    SweepExpired,
    UpdateTicket,
)
from eventhive_core.domain.errors import (
    AmountBelowMinimum,
    BadRequest,
    CannotCancelCompleteOrder,
    CannotEditReservedTicket,
    CannotOrderOwnTicket,
    CannotPayCancelledOrder,
    ConcurrencyConflict,
    ConfigurationError,
    EmailInUse,
    EventHiveError,
    FieldError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidCredentials,
    NotAuthorized,
    NotFound,
    OrderAlreadyPaid,
    OrderNotComplete,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentRefused,
    ReplayedRefusal,
    SoldOut,
    TransientStorageError,
    ValidationFailed,
    WebhookRejected,
)
from eventhive_core.domain.money import Money
from eventhive_core.domain.order import OrderStatus
from eventhive_core.domain.read_models import OrderView, Page, PaymentView, TicketSummary, TicketView, UserView
from eventhive_core.hive import Hive
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.service_layer.orders import ExpireResult
from eventhive_core.service_layer.payment_events import WebhookOutcome
from eventhive_core.service_layer.users import Identity, SignedIn
from eventhive_core.settings import HiveSettings
from eventhive_core.version import __version__


def __getattr__(name: str) -> object:
    # Errors renamed to read as refusals (OrderCancelled was also an event's name): the old names
    # still work for one release, with a warning when they are used.
    if name in _errors.RENAMED:
        new = _errors.RENAMED[name]
        warnings.warn(f"eventhive_core.{name} is renamed {new}; import {new} instead", DeprecationWarning, stacklevel=2)
        return getattr(_errors, new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AmountBelowMinimum",
    "BadRequest",
    "BanUser",
    "CancelOrder",
    "CannotCancelCompleteOrder",
    "CannotEditReservedTicket",
    "CannotOrderOwnTicket",
    "CannotPayCancelledOrder",
    "Clock",
    "Command",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CreateTicket",
    "EmailInUse",
    "EventHiveError",
    "ExpireOrder",
    "ExpireResult",
    "FieldError",
    "Hive",
    "HiveSettings",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyReused",
    "Identity",
    "InvalidCredentials",
    "Money",
    "NotAuthorized",
    "NotFound",
    "OrderAlreadyPaid",
    "OrderNotComplete",
    "OrderStatus",
    "OrderView",
    "Page",
    "PayOrder",
    "PaymentDeclined",
    "PaymentInProgress",
    "PaymentProviderUnavailable",
    "PaymentRefused",
    "PaymentView",
    "PlaceOrder",
    "ReceivePaymentEvent",
    "RefundOrder",
    "ReplayedRefusal",
    "SignIn",
    "SignOut",
    "SignUp",
    "SignedIn",
    "SoldOut",
    "SweepExpired",
    "SystemClock",
    "TicketSummary",
    "TicketView",
    "TransientStorageError",
    "UpdateTicket",
    "UserView",
    "ValidationFailed",
    "WebhookOutcome",
    "WebhookRejected",
    "__version__",
    "bootstrap",
    "hookimpl",
]
