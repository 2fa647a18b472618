"""A denylist in this process's memory (``EVENTHIVE_DENYLIST=memory``, the default).

Right for one process per service: the embedded default, where the database refuses revoked
tokens and banned users anyway, and a split run on one laptop. Every process keeps its own
copy and a restart forgets it, so services with several processes, or that restart while tokens
are still valid, use the Redis denylist instead.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from eventhive_core.clock import Clock, SystemClock

__all__ = ["MemoryDenylist"]

#: How often expired entries are dropped in bulk; between two purges a lookup drops the one it finds.
PURGE_EVERY = timedelta(minutes=1)


class MemoryDenylist:
    """Token ids and user ids refused until a given time, in a dict; thread-safe.

    Args:
        clock: Tells when an entry has expired (the Hive's clock, so tests can freeze it).

    Examples:
        >>> from datetime import UTC
        >>> from eventhive_core.testing.fakes import FrozenClock
        >>> clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
        >>> denylist = MemoryDenylist(clock)
        >>> denylist.deny_token("jti-1", clock.now() + timedelta(minutes=5))
        >>> denylist.is_denied("jti-1", "user-1"), denylist.is_denied("jti-2", "user-1")
        (True, False)
        >>> _ = clock.advance(timedelta(minutes=5))
        >>> denylist.is_denied("jti-1", "user-1")
        False
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._tokens: dict[str, datetime] = {}
        self._users: dict[str, datetime] = {}
        self._next_purge: datetime | None = None

    def __repr__(self) -> str:
        with self._lock:
            return f"MemoryDenylist(tokens={len(self._tokens)}, users={len(self._users)})"

    def deny_token(self, jti: str, until: datetime) -> None:
        """Refuse the token with id ``jti`` until ``until``; nothing if that is past."""
        self._deny(self._tokens, jti, until)

    def deny_user(self, user_id: str, until: datetime) -> None:
        """Refuse every token of ``user_id`` until ``until``; nothing if that is past."""
        self._deny(self._users, user_id, until)

    def is_denied(self, jti: str, user_id: str) -> bool:
        """Tell whether the token ``jti`` or its user ``user_id`` is refused now."""
        # Every authenticated request asks, and the list is nearly always empty: answer without
        # the lock or the clock then (reading a dict's size is atomic under the GIL).
        if not self._tokens and not self._users:
            return False
        now = self._clock.now()
        with self._lock:
            return self._live(self._tokens, jti, now) or self._live(self._users, user_id, now)

    def close(self) -> None:
        """Nothing to release."""

    def _deny(self, entries: dict[str, datetime], key: str, until: datetime) -> None:
        if until.tzinfo is None:
            raise ValueError("until must be an aware datetime (UTC)")
        now = self._clock.now()
        if until <= now:
            return
        with self._lock:
            entries[key] = max(until, entries.get(key, until))
            if self._next_purge is None or now >= self._next_purge:
                self._purge(now)

    def _purge(self, now: datetime) -> None:
        for entries in (self._tokens, self._users):
            for key in [key for key, until in entries.items() if until <= now]:
                del entries[key]
        self._next_purge = now + PURGE_EVERY

    @staticmethod
    def _live(entries: dict[str, datetime], key: str, now: datetime) -> bool:
        until = entries.get(key)
        if until is None:
            return False
        if until <= now:
            del entries[key]
            return False
        return True
