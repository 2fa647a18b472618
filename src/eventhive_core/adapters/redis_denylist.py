"""A denylist in Redis (``EVENTHIVE_DENYLIST=redis``, ``EVENTHIVE_REDIS_URL``), shared by processes.

One key per entry, ``<prefix>token:<jti>`` or ``<prefix>user:<user id>``, whose Redis TTL is the
time left until the entry may go: a revoked token's remaining lifetime, a banned user's token
lifetime. Redis drops the keys itself, so the list never outgrows the tokens still valid. The
prefix (``EVENTHIVE_DENYLIST_PREFIX``) lets several installations, or test runs, share a server.

A check is one round trip (``EXISTS`` on both keys). When Redis cannot answer, the check raises
:class:`~eventhive_core.domain.errors.TransientStorageError` (HTTP 503): a revoked token must not
pass because the list was unreachable, and 401 would tell a signed-in user to sign in again.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from eventhive_core.clock import Clock, SystemClock
from eventhive_core.domain.errors import ConfigurationError, TransientStorageError

if TYPE_CHECKING:
    import redis

__all__ = ["DEFAULT_PREFIX", "RedisDenylist"]

#: The key prefix when none is configured.
DEFAULT_PREFIX = "eventhive:denylist:"

#: Seconds to connect to Redis, and to wait for an answer, before a check fails with 503.
TIMEOUT_SECONDS = 2.0

# Set the key with this TTL unless it already lives longer: denying twice keeps the later time,
# whichever delivery arrives first. One script, so no other writer comes in between.
_EXTEND = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return left
"""


class RedisDenylist:
    """Token ids and user ids refused until a given time, as Redis keys with a TTL; thread-safe.

    Args:
        url: ``redis://`` or ``rediss://`` URL (``EVENTHIVE_REDIS_URL``).
        prefix: Put before every key (``EVENTHIVE_DENYLIST_PREFIX``).
        clock: Turns "until" into a TTL, so the Redis server's own clock plays no part.
        client: A ready client (tests); built from ``url`` when omitted.

    Raises:
        ConfigurationError: The redis client is not installed, or the URL does not parse.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Clock | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigurationError(
                'EVENTHIVE_DENYLIST=redis needs the redis client: pip install "eventhive-tickets[server]" '
                "(or pip install redis)"
            ) from None
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
                )
            except ValueError as exc:
                raise ConfigurationError(f"EVENTHIVE_REDIS_URL does not parse: {exc}") from None
        self._redis_error = redis.RedisError
        self._client = client
        self._extend = client.register_script(_EXTEND)
        self.prefix = prefix
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"RedisDenylist(prefix={self.prefix!r})"

    def token_key(self, jti: str) -> str:
        """Return the key that refuses the token ``jti``."""
        return f"{self.prefix}token:{jti}"

    def user_key(self, user_id: str) -> str:
        """Return the key that refuses every token of ``user_id``."""
        return f"{self.prefix}user:{user_id}"

    def deny_token(self, jti: str, until: datetime) -> None:
        """Refuse the token ``jti`` until ``until`` (its expiry); nothing if that is past.

        Raises:
            TransientStorageError: Redis did not answer (the subscriber's delivery is retried).
        """
        self._deny(self.token_key(jti), until)

    def deny_user(self, user_id: str, until: datetime) -> None:
        """Refuse every token of ``user_id`` until ``until``; nothing if that is past.

        Raises:
            TransientStorageError: Redis did not answer (the subscriber's delivery is retried).
        """
        self._deny(self.user_key(user_id), until)

    def is_denied(self, jti: str, user_id: str) -> bool:
        """Tell whether the token ``jti`` or its user ``user_id`` is refused now.

        Raises:
            TransientStorageError: Redis did not answer.
        """
        try:
            found = self._client.exists(self.token_key(jti), self.user_key(user_id))
        except self._redis_error as exc:
            raise TransientStorageError() from exc
        return bool(found)

    def check_reachable(self, timeout: float) -> None:
        """Return once Redis answered a ``PING`` (what readiness probes ask).

        The client's own timeouts (:data:`TIMEOUT_SECONDS`) bound the wait; the caller's
        ``timeout`` bounds how long it waits for this method.

        Raises:
            TransientStorageError: Redis did not answer.
        """
        try:
            self._client.ping()
        except self._redis_error as exc:
            raise TransientStorageError() from exc

    def close(self) -> None:
        """Close the client's connections (idempotent)."""
        self._client.close()

    def _deny(self, key: str, until: datetime) -> None:
        if until.tzinfo is None:
            raise ValueError("until must be an aware datetime (UTC)")
        # Round up: a key that outlives its token by under a millisecond is harmless, one that
        # dies first is not.
        left_ms = math.ceil((until - self._clock.now()).total_seconds() * 1000)
        if left_ms <= 0:
            return
        try:
            self._extend(keys=[key], args=[left_ms])
        except self._redis_error as exc:
            raise TransientStorageError() from exc
