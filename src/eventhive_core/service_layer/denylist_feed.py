"""The subscribers that feed a Hive's denylist from ``user:banned`` and ``user:signed_out``.

Every service of a split platform refuses a signed-out token and a banned user's next request
within one event delivery. Each service that keeps a denylist of its own (``memory``) needs every
such event, so it runs these subscribers under a role of its own (``EVENTHIVE_DENYLIST_ROLE``):
buses with one durable consumer per role (NATS) then hand each service its own copy. Services
sharing one Redis denylist need them in one service only.

How long an entry lives:

- a signed-out token until it would have expired (the event carries its expiry);
- a banned user for one token lifetime (``EVENTHIVE_TOKEN_TTL``) from the delivery: every token
  issued before the ban has expired by then, and the banned user can sign in no more.
"""

from __future__ import annotations

from datetime import timedelta

from eventhive_core.clock import Clock
from eventhive_core.domain.events import UserBanned, UserSignedOut
from eventhive_core.ports.denylist import Denylist
from eventhive_core.ports.event_bus import Subscription
from eventhive_core.ports.storage import UnitOfWork
from eventhive_core.service_layer.messagebus import SubscriberHandler, on_event

__all__ = ["DENY_BANNED_USER", "DENY_SIGNED_OUT_TOKEN", "denylist_subscribers"]

#: Name of the subscriber that denies a banned user's tokens, after its role (``<role>.deny_banned_user``).
DENY_BANNED_USER = "deny_banned_user"
#: Name of the subscriber that denies a signed-out token, after its role (``<role>.deny_signed_out_token``).
DENY_SIGNED_OUT_TOKEN = "deny_signed_out_token"  # noqa: S105 (a subscriber name, not a secret)


def denylist_subscribers(
    denylist: Denylist, *, role: str, token_ttl: timedelta, clock: Clock
) -> list[Subscription[SubscriberHandler]]:
    """Return the two subscribers that feed ``denylist``, named ``<role>.deny_*`` and in ``role``.

    The role is in the names because names key the processed-message records: two services
    sharing a database each still record, and apply, every event.

    Examples:
        >>> from eventhive_core.adapters.memory_denylist import MemoryDenylist
        >>> from eventhive_core.clock import SystemClock
        >>> subscribers = denylist_subscribers(
        ...     MemoryDenylist(), role="orders", token_ttl=timedelta(days=1), clock=SystemClock()
        ... )
        >>> [(s.name, s.event_type, s.role) for s in subscribers]  # doctest: +NORMALIZE_WHITESPACE
        [('orders.deny_banned_user', 'user:banned', 'orders'),
         ('orders.deny_signed_out_token', 'user:signed_out', 'orders')]
    """

    def deny_banned_user(event: UserBanned, uow: UnitOfWork) -> None:
        # From the delivery, not the ban: a clock behind the auth service's must not shorten it.
        denylist.deny_user(event.user_id, clock.now() + token_ttl)

    def deny_signed_out_token(event: UserSignedOut, uow: UnitOfWork) -> None:
        denylist.deny_token(event.token_id, event.expires_at)

    return [
        on_event(f"{role}.{DENY_BANNED_USER}", role, UserBanned, deny_banned_user),
        on_event(f"{role}.{DENY_SIGNED_OUT_TOKEN}", role, UserSignedOut, deny_signed_out_token),
    ]
