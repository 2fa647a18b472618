"""Fakes for tests: a clock you move by hand, and more as the ports grow."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class FrozenClock:
    """A clock that stands still until told to move; thread-safe.

    Examples:
        >>> clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
        >>> clock.advance(seconds=61).isoformat()
        '2026-01-01T00:01:01+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, *, seconds: float = 0) -> datetime:
        """Move the clock forward and return the new time."""
        step = (delta or timedelta(0)) + timedelta(seconds=seconds)
        if step < timedelta(0):
            raise ValueError("A clock only moves forward")
        with self._lock:
            self._now += step
            return self._now
