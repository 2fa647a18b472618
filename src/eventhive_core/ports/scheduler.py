"""The expiry scheduler port: fire an order's expiry when its hold runs out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

#: What a scheduler calls when a timer fires: expire the order with this id.
ExpireCallback = Callable[[str], None]


class ExpiryScheduler(Protocol):
    """Schedules expiries. Correctness never depends on it: lazy expiry and the sweeper back it up."""

    def schedule(self, order_id: str, fire_at: datetime) -> None:
        """Arrange for the order's expiry to run at ``fire_at`` (aware UTC); duplicates are harmless."""
        ...

    def start(self, expire: ExpireCallback) -> None:
        """Begin firing timers by calling ``expire(order_id)``."""
        ...

    def close(self) -> None:
        """Stop firing timers."""
        ...
