"""In-process rate-limit counters without a thread per burst: limits' memory storage, swept inline.

limits' ``MemoryStorage`` frees expired counters from a :class:`threading.Timer` it starts again
10 ms after the last one ran, as long as requests come: under a rush, a new thread a hundred
times a second in every worker process, each walking every counter. The counts do not depend on
it (a moving window counts only the entries inside it; a fixed window past its expiry reads as
new when asked), the sweep only frees memory. This storage sweeps on the requesting thread
instead, at most once a second. Registered as ``eventhive-memory://``; the limiter uses it when
``EVENTHIVE_REDIS_URL`` is unset.
"""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

#: The storage URI scheme of :class:`SweptMemoryStorage`.
SCHEME = "eventhive-memory"

#: Seconds between two sweeps of expired counters.
SWEEP_EVERY = 1.0


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, its expired counters swept inline at most every :data:`SWEEP_EVERY` seconds."""

    STORAGE_SCHEME = [SCHEME]  # limits registers the scheme from this class attribute

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        """Create an empty store (``uri`` and ``options`` as limits passes them)."""
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the one MemoryStorage starts in its constructor
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()

    # MemoryStorage calls self.__schedule_expiry() on every hit; Python names it this way in its
    # class, so this method replaces the timer it would start.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_EVERY
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweeping.release()


__all__ = ["SCHEME", "SWEEP_EVERY", "SweptMemoryStorage"]
