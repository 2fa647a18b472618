"""What the NATS bus tests share: a Hive on the nats bus, and a subscriber that counts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from eventhive_core import Hive, hookimpl
from eventhive_core.clock import Clock, SystemClock
from eventhive_core.ports.event_bus import DeliverLater
from eventhive_core.testing.hives import make_test_hive


class Recorder:
    """A plugin with one subscriber that fails while ``failures`` remain (or while ``broken``), else applies.

    Each delivery first takes ``delay`` seconds. While ``waiting``, it raises DeliverLater (an event
    ahead of its predecessor).

    ``calls`` counts deliveries that reached it; ``applied`` the event ids it handled without raising.
    """

    def __init__(self, name: str, event_type: str, role: str, *, failures: int = 0, delay: float = 0.0) -> None:
        self.name, self.event_type, self.role = name, event_type, role
        self.failures = failures
        self.delay = delay
        self.broken = False
        self.waiting = False
        self.calls: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self._lock = threading.Lock()

    @hookimpl
    def eventhive_register_subscribers(self, register: Any) -> None:
        register(self.name, self.event_type, self.role, self.handle)

    def handle(self, envelope: Any, uow: Any) -> None:
        time.sleep(self.delay)  # a slow subscriber's own work
        with self._lock:
            self.calls[str(envelope.id)] += 1
            if self.waiting:
                raise DeliverLater(f"{self.name} waits for another event")
            if self.broken:
                raise RuntimeError(f"{self.name} is broken")
            if self.failures > 0:
                self.failures -= 1
                raise RuntimeError(f"{self.name} failed on purpose ({self.failures} failure(s) left)")
            self.applied[str(envelope.id)] += 1


def nats_hive(
    database_url: str,
    nats_url: str,
    prefix: str,
    *plugins: object,
    clock: Clock | None = None,
    **settings: Any,
) -> Hive:
    """A Hive on SQL storage with the nats bus, short ack wait and retry delays (nothing started)."""
    settings = {
        "nats_ack_wait": 2,
        "nats_retry_delay": 0.05,
        "nats_batch_size": 10,
        "load_plugins": (),
        **settings,
    }
    return make_test_hive(
        clock or SystemClock(),
        plugins=plugins,
        storage="sqlalchemy",
        database_url=database_url,
        event_bus="nats",
        nats_url=nats_url,
        nats_prefix=prefix,
        **settings,
    )
