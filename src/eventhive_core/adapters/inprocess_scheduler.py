"""Expiry timers inside this process: one daemon thread over a heap of due times.

For the embedded mode (``eventhive serve``). Timers live in memory, so a restart forgets them;
that is fine because correctness never depends on the scheduler: a hold past its expiry is
already free (lazy expiry), and the sweeper cancels whatever a lost timer missed.

This module is also the built-in plugin ``builtin.inprocess_scheduler``: it registers the
schedulers ``inprocess`` (``EVENTHIVE_SCHEDULER``, the default) and ``none`` (sweeper only).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventhive_core.clock import Clock, SystemClock
from eventhive_core.markers import hookimpl
from eventhive_core.ports.scheduler import ExpireCallback

if TYPE_CHECKING:
    from eventhive_core.plugins.factories import RegisterScheduler
    from eventhive_core.settings import HiveSettings

__all__ = ["InProcessScheduler", "NoScheduler", "eventhive_register_schedulers"]

logger = logging.getLogger(__name__)


class InProcessScheduler:
    """Fire ``expire(order_id)`` when each order's time comes, from one timer thread.

    Time is read from the injected clock. The thread sleeps until the earliest timer is due,
    but never longer than ``max_wait`` seconds at a time, so it also notices a clock that
    jumps (NTP, or a test's FrozenClock moved without ``wake()``).

    Args:
        clock: Where "now" comes from; the system clock by default.
        max_wait: The longest the thread sleeps before looking at the clock again (seconds).
        join_timeout: How long ``close()`` waits for the thread to finish (seconds).

    Examples:
        >>> from datetime import UTC
        >>> scheduler = InProcessScheduler()
        >>> scheduler.schedule("order-1", datetime(2030, 1, 1, tzinfo=UTC))
        >>> scheduler.pending
        1
        >>> scheduler.close()
    """

    name = "inprocess"

    def __init__(self, clock: Clock | None = None, *, max_wait: float = 1.0, join_timeout: float = 5.0) -> None:
        if max_wait <= 0:
            raise ValueError("max_wait must be positive")
        self._clock: Clock = clock or SystemClock()
        self._max_wait = max_wait
        self._join_timeout = join_timeout
        self._condition = threading.Condition()
        self._heap: list[tuple[datetime, int, str]] = []
        self._queued: set[tuple[str, datetime]] = set()
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"InProcessScheduler(pending={self.pending}, running={self.running})"

    @property
    def pending(self) -> int:
        """How many timers are waiting to fire."""
        with self._condition:
            return len(self._heap)

    @property
    def running(self) -> bool:
        """Tell whether the timer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def schedule(self, order_id: str, fire_at: datetime) -> None:
        """Arrange for ``expire(order_id)`` at ``fire_at``; a repeat of the same timer is ignored.

        Timers scheduled before ``start()`` are kept and fire once started. After ``close()``
        scheduling does nothing (the sweeper covers it).

        Raises:
            ValueError: ``fire_at`` is naive.
        """
        if fire_at.tzinfo is None or fire_at.utcoffset() is None:
            raise ValueError("fire_at must be an aware datetime (UTC)")
        with self._condition:
            if self._closed:
                logger.debug("Scheduler closed; not scheduling expiry of order %s", order_id)
                return
            if (order_id, fire_at) in self._queued:
                return
            self._queued.add((order_id, fire_at))
            heapq.heappush(self._heap, (fire_at, next(self._sequence), order_id))
            # Only an earlier-than-before head changes how long the thread should sleep.
            if self._heap[0][2] == order_id:
                self._condition.notify_all()

    def start(self, expire: ExpireCallback) -> None:
        """Start the timer thread, which calls ``expire(order_id)`` as timers come due.

        Raises:
            RuntimeError: Already started, or closed.
        """
        with self._condition:
            if self._closed:
                raise RuntimeError("The scheduler is closed; build a new one")
            if self._thread is not None:
                raise RuntimeError("The scheduler is already started")
            self._thread = threading.Thread(
                target=self._run, args=(expire,), name="eventhive-expiry-scheduler", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """Make the timer thread look at the clock now (after moving a test clock, for instance)."""
        with self._condition:
            self._condition.notify_all()

    def close(self) -> None:
        """Stop the timer thread and wait for it to finish; idempotent. Pending timers are dropped."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(self._join_timeout)
        if thread.is_alive():
            logger.warning(
                "The expiry scheduler thread did not stop within %.1f s (an expiry is still running)",
                self._join_timeout,
            )

    def _next_due(self) -> str | None:
        """Wait for the next due timer and take it off the heap; return None once closed."""
        with self._condition:
            while not self._closed:
                timeout: float | None = None
                if self._heap:
                    fire_at, _, order_id = self._heap[0]
                    now = self._clock.now()
                    if fire_at <= now:
                        heapq.heappop(self._heap)
                        self._queued.discard((order_id, fire_at))
                        return order_id
                    timeout = min((fire_at - now).total_seconds(), self._max_wait)
                self._condition.wait(timeout)
            return None

    def _run(self, expire: ExpireCallback) -> None:
        while (order_id := self._next_due()) is not None:
            try:
                expire(order_id)
            except Exception:
                # The timer is best effort: the sweeper retries whatever failed here.
                logger.exception("Expiring order %s failed; the sweeper will retry it", order_id)


class NoScheduler:
    """A scheduler that schedules nothing: expiry is left to lazy expiry and the sweeper.

    Examples:
        >>> from datetime import UTC
        >>> NoScheduler().schedule("order-1", datetime(2030, 1, 1, tzinfo=UTC))
    """

    name = "none"

    def __repr__(self) -> str:
        return "NoScheduler()"

    def schedule(self, order_id: str, fire_at: datetime) -> None:
        """Do nothing; the sweeper will expire the order."""

    def start(self, expire: ExpireCallback) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


def make_inprocess_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> InProcessScheduler:
    """Build a scheduler that fires expiries from a timer thread in this process."""
    return InProcessScheduler()


def make_no_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> NoScheduler:
    """Build a scheduler that schedules nothing: lazy expiry and the sweeper do the work."""
    return NoScheduler()


@hookimpl
def eventhive_register_schedulers(register: RegisterScheduler) -> None:
    """Register ``inprocess`` and ``none``."""
    register("inprocess", make_inprocess_scheduler)
    register("none", make_no_scheduler)
