"""EventHive's framework-agnostic core: sell and buy tickets without overselling.

Build a :class:`Hive` with :func:`bootstrap`, send it commands, read with ``hive.queries``::

    from eventhive_core import PlaceOrder, bootstrap

    hive = bootstrap()
"""

from __future__ import annotations

from eventhive_core.bootstrap import bootstrap
from eventhive_core.clock import Clock, SystemClock
from eventhive_core.deprecation import deprecated_names
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
    NotThisService,
    OrderAlreadyPaid,
    OrderNotComplete,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentRefused,
    ReplayedRefusal,
    RoleMismatch,
    SigningKeyMissing,
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

__getattr__ = deprecated_names(
    __name__, {old: (getattr(_errors, new), f"eventhive_core.{new}") for old, new in _errors.RENAMED.items()}
)


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
    "NotThisService",
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
    "RoleMismatch",
    "SignIn",
    "SignOut",
    "SignUp",
    "SignedIn",
    "SigningKeyMissing",
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
