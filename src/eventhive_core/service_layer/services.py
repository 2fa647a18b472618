"""The dependencies every handler gets, gathered in one explicit object.

Handlers could get their dependencies injected by parameter name; one typed object does the
same job with no reflection and lets mypy check every handler's use of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from eventhive_core.clock import Clock
from eventhive_core.domain.expiration import ExpirationPolicy
from eventhive_core.domain.order import Order
from eventhive_core.domain.payment import Payment
from eventhive_core.domain.ticket import Ticket
from eventhive_core.ports.auth import PasswordHasher, TokenService
from eventhive_core.ports.denylist import Denylist
from eventhive_core.ports.payments import PaymentGateway
from eventhive_core.ports.storage import Storage
from eventhive_core.service_layer.known_users import KnownUsers
from eventhive_core.settings import HiveSettings

#: Chooses the hold's TTL for an order (the ``eventhive_reservation_ttl`` policy hook).
TtlPolicy = Callable[[Ticket, int], timedelta]
#: Chooses what to do with money for an order that is no longer live (``eventhive_late_payment_policy``).
LatePaymentPolicy = Callable[[Order, Payment], str]


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a command handler may use.

    Attributes:
        storage: Where state lives; handlers open units of work on it.
        clock: The only source of "now".
        settings: The validated settings.
        expiration: TTL and grace of holds.
        hasher: Password hashing.
        tokens: Token signing and checking.
        payment_gateway: The payment provider (``uow.payments`` is the attempts' repository).
        producer: The producer name written into event envelopes.
        ttl_for: The reservation-TTL policy.
        late_payment: The late-payment policy.
        dummy_password_hash: A hash of no one's password (computed once, lazily), checked when an
            email is unknown so sign-in takes as long either way.
        denylist: Token ids and user ids refused on top of the storage's own checks, fed by
            ``user:signed_out`` and ``user:banned``; None checks the storage alone.
        known_users: User ids already seen stored, whose accounts commands need not read again.
    """

    storage: Storage
    clock: Clock
    settings: HiveSettings
    expiration: ExpirationPolicy
    hasher: PasswordHasher
    tokens: TokenService
    payment_gateway: PaymentGateway
    producer: str
    ttl_for: TtlPolicy
    late_payment: LatePaymentPolicy
    dummy_password_hash: Callable[[], str]
    denylist: Denylist | None = None
    known_users: KnownUsers = field(default_factory=KnownUsers)

    @property
    def owns_orders(self) -> bool:
        """Tell whether orders are this Hive's own records (the whole platform, or the orders service of a split).

        Elsewhere (the payments service) they are a replica, fed by the orders service's events
        and never written here: what happens to an order is decided where it lives.
        """
        return self.settings.role in (None, "orders")

    @property
    def payments(self) -> PaymentGateway:
        """Deprecated: renamed ``payment_gateway`` (``uow.payments`` is the payment attempts' repository)."""
        warnings.warn("Services.payments is renamed Services.payment_gateway", DeprecationWarning, stacklevel=2)
        return self.payment_gateway
