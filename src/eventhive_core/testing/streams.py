"""A stream shared by several Hives' buses: what NATS JetStream is to a split platform, in one test process.

Each Hive of a split gets its own :class:`StreamBus` on one :class:`SharedStream`. Publishing
appends to the stream; nothing is delivered until the test calls :meth:`SharedStream.pump`,
which hands every subscriber each message of its type that it has not yet taken without
raising, as a durable consumer would: a subscriber that raises gets the message again on a
later pass, while the others (and its own later messages) go on. ``pump`` can shuffle the order
each subscriber sees and deliver messages twice, which is how replicas are shown to reach their
source's state whatever the order and however often events arrive.

Examples:
    >>> stream = SharedStream()
    >>> seen = []
    >>> stream.bus().subscribe("a.log", "order:created", "a", lambda message: seen.append(message.id))
    >>> from eventhive_core.ports.messages import Message
    >>> stream.bus().publish(Message(id="m1", type="order:created", body="{}"))
    >>> stream.pump(), seen
    (1, ['m1'])
"""

from __future__ import annotations

import random
import threading

from eventhive_core.ports.event_bus import BusClosed, Delivery, Subscription, SubscriptionTable
from eventhive_core.ports.messages import Message


class SharedStream:
    """Every message published by any of its buses, and how far each subscriber got.

    Args:
        rng: Where shuffles and duplicates come from (seed it for a reproducible order).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random(0)  # noqa: S311 - test order, not security
        self.messages: list[Message] = []
        self.buses: list[StreamBus] = []
        self._taken: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def bus(self) -> StreamBus:
        """Return a new bus on this stream (one per Hive)."""
        made = StreamBus(self)
        self.buses.append(made)
        return made

    def append(self, message: Message) -> None:
        """Add a published message to the stream."""
        with self._lock:
            self.messages.append(message)

    def pending(self) -> dict[str, list[Message]]:
        """Return, by subscriber name, the messages of its type it has not yet taken (oldest first)."""
        with self._lock:
            messages = list(self.messages)
        pending: dict[str, list[Message]] = {}
        for subscription in self._subscriptions():
            taken = self._taken.get(subscription.name, set())
            mine = [m for m in messages if m.type == subscription.event_type and m.id not in taken]
            if mine:
                pending[subscription.name] = mine
        return pending

    def pump(self, *, shuffle: bool = False, duplicate: float = 0.0, max_passes: int = 200) -> int:
        """Deliver until no subscriber can take anything more; return how many deliveries succeeded.

        Args:
            shuffle: Hand each subscriber its pending messages in a random order on each pass.
            duplicate: Chance of delivering a message a second time right after it succeeded.
            max_passes: Passes over every subscriber before giving up (a test's safety net).
        """
        delivered = 0
        for _ in range(max_passes):
            progress = False
            for subscription in self._subscriptions():
                taken = self._taken.setdefault(subscription.name, set())
                with self._lock:
                    mine = [m for m in self.messages if m.type == subscription.event_type and m.id not in taken]
                if shuffle:
                    self.rng.shuffle(mine)
                for message in mine:
                    try:
                        subscription.handler(message)
                        if self.rng.random() < duplicate:
                            subscription.handler(message)
                    except Exception:  # noqa: S112 - a consumer redelivers whatever failed, whatever it was
                        continue
                    taken.add(message.id)
                    delivered += 1
                    progress = True
            if not progress:
                return delivered
        return delivered

    def _subscriptions(self) -> list[Subscription[Delivery]]:
        return [subscription for bus in self.buses if not bus.closed for subscription in bus.subscriptions]


class StreamBus:
    """One Hive's bus on a :class:`SharedStream` (the EventBus port)."""

    def __init__(self, stream: SharedStream) -> None:
        self._stream = stream
        self._table = SubscriptionTable()
        self._failures: list[Exception] = []
        self.closed = False
        self.started = False

    @property
    def subscriptions(self) -> tuple[Subscription[Delivery], ...]:
        """This bus's subscribers, in registration order."""
        return self._table.all()

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register a subscriber under a unique name (unique on this bus)."""
        self._table.add(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        """Append the message to the shared stream.

        Raises:
            BusClosed: The bus was closed.
            Exception: The error given to ``fail_next``.
        """
        if self.closed:
            raise BusClosed(f"Cannot publish {message.type} {message.id}: the bus is closed")
        if self._failures:
            raise self._failures.pop(0)
        self._stream.append(message)

    def fail_next(self, count: int = 1, error: Exception | None = None) -> None:
        """Make the next ``count`` publishes raise ``error`` (a ConnectionError by default) and append nothing."""
        self._failures.extend([error or ConnectionError("the stream is unreachable")] * count)

    def start(self) -> None:
        """Note that the bus was started (delivery happens in ``SharedStream.pump``)."""
        self.started = True

    def close(self) -> None:
        """Stop taking part: later publishes raise BusClosed and its subscribers get nothing more."""
        self.closed = True


__all__ = ["SharedStream", "StreamBus"]
