"""The expiration policy: how long a hold lasts and when it is due for cancellation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from eventhive_core.domain.order import HOLDING_STATUSES, Order

#: The original's payment window.
DEFAULT_TTL = timedelta(seconds=60)
#: Added to the expiry time when scheduling, so a slightly early timer never finds the order not yet due.
DEFAULT_GRACE = timedelta(seconds=2)
#: Bounds a TTL policy hook may choose within.
MIN_TTL = timedelta(seconds=1)
MAX_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ExpirationPolicy:
    """How long an unpaid order holds its units.

    Attributes:
        ttl: The hold's lifetime.
        grace: Extra delay before a scheduler fires the expiry.

    Examples:
        >>> from datetime import UTC
        >>> policy = ExpirationPolicy()
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> policy.expires_at(t)
        datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.timezone.utc)
        >>> policy.fire_at(policy.expires_at(t)).second
        2
    """

    ttl: timedelta = DEFAULT_TTL
    grace: timedelta = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if not MIN_TTL <= self.ttl <= MAX_TTL:
            raise ValueError(f"The reservation TTL must be between {MIN_TTL} and {MAX_TTL}, got {self.ttl}")
        if self.grace < timedelta(0):
            raise ValueError("The expiry grace cannot be negative")

    def expires_at(self, now: datetime, ttl: timedelta | None = None) -> datetime:
        """Return when a hold placed at ``now`` runs out (``ttl`` overrides the policy's)."""
        return now + (self.ttl if ttl is None else ttl)

    def fire_at(self, expires_at: datetime) -> datetime:
        """Return when a scheduler should fire the expiry of a hold ending at ``expires_at``."""
        return expires_at + self.grace


def is_due(order: Order, now: datetime) -> bool:
    """Tell whether an order's hold has run out and it still holds units on paper.

    Examples:
        >>> from datetime import UTC
        >>> from eventhive_core.domain.money import Money
        >>> from eventhive_core.domain.order import OrderStatus
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> o = Order("o", "t", "u", OrderStatus.CREATED, expires_at=t, created_at=t, amount=Money(100))
        >>> is_due(o, t), is_due(o, t - timedelta(seconds=1))
        (True, False)
    """
    return order.status in HOLDING_STATUSES and order.expires_at <= now
