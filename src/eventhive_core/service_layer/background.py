"""Background threads for one process: the outbox relay loop and the sweeper loop.

Used by the embedded mode (``hive.start(background=True)``). Both are safe to run in several
processes at once: relays claim rows, and expiries are guarded writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Loop:
    """Runs ``work`` every ``interval`` seconds (or sooner when nudged) on a daemon thread."""

    def __init__(self, name: str, work: Callable[[], object], interval: float, settle: float = 0.0) -> None:
        """Prepare the loop (``start`` runs it).

        Args:
            name: The thread's name (``eventhive-<name>``) and the loop's in log lines.
            work: One round of work.
            interval: Seconds between rounds when nobody nudges.
            settle: Seconds a nudged round waits first, so the burst of nudges that woke it is
                taken in that one round rather than one round each.
        """
        self._name = name
        self._work = work
        self._interval = interval
        self._settle = settle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"eventhive-{self._name}", daemon=True)
            self._thread.start()

    def nudge(self) -> None:
        """Run the work again now instead of waiting for the interval."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._work()
            except Exception:
                # A failing round must not kill the loop; the next round retries.
                log.exception("EventHive %s loop failed; retrying in %.1fs", self._name, self._interval)
            if self._wake.wait(self._interval) and self._settle > 0:
                self._stop.wait(self._settle)
