"""Fakes for tests: a clock you move by hand, a recording bus, a manual scheduler, fake payments."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from eventhive_core.adapters.fake_payments import FakeCharge, FakePaymentGateway, FakeRefund
from eventhive_core.domain.money import Money
from eventhive_core.ports.event_bus import (
    BusClosed,
    Delivery,
    DeliveryFailed,
    Subscription,
    SubscriptionTable,
    deliver_to_each,
)
from eventhive_core.ports.messages import Message
from eventhive_core.ports.payments import ChargeResult
from eventhive_core.ports.scheduler import ExpireCallback

__all__ = [
    "BusClosed",
    "DeliveryFailed",
    "FakeCharge",
    "FakePaymentGateway",
    "FakeRefund",
    "FrozenClock",
    "HeldPaymentGateway",
    "ManualScheduler",
    "RecordingBus",
]


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


class RecordingBus:
    """An event bus that records what is published and delivers only when told to.

    By default ``publish`` just records; call ``deliver_pending()`` to hand the recorded
    messages to subscribers. With ``deliver_immediately=True`` it delivers inside ``publish``
    like the in-process bus. ``fail_next()`` makes the next publishes fail, as a broker that
    is down would, so the outbox relay's retries can be tested.

    Examples:
        >>> bus = RecordingBus()
        >>> bus.publish(Message(id="e1", type="order:created", body="{}"))
        >>> bus.types()
        ['order:created']
    """

    name = "recording"

    def __init__(self, *, deliver_immediately: bool = False) -> None:
        self.deliver_immediately = deliver_immediately
        self.started = False
        self.closed = False
        self._lock = threading.RLock()
        self._table = SubscriptionTable()
        self._published: list[Message] = []
        self._undelivered: list[Message] = []
        self._failures: list[Exception] = []

    @property
    def published(self) -> list[Message]:
        """Every message published, oldest first, redeliveries included (a copy)."""
        with self._lock:
            return list(self._published)

    @property
    def undelivered(self) -> list[Message]:
        """Messages published but not yet delivered to subscribers (a copy)."""
        with self._lock:
            return list(self._undelivered)

    @property
    def subscriptions(self) -> tuple[Subscription[Delivery], ...]:
        """Every subscription, in registration order."""
        return self._table.all()

    def types(self) -> list[str]:
        """Return the type of each published message, oldest first."""
        return [message.type for message in self.published]

    def of_type(self, event_type: str) -> list[Message]:
        """Return the published messages of one type, oldest first."""
        return [message for message in self.published if message.type == event_type]

    def fail_next(self, count: int = 1, error: Exception | None = None) -> None:
        """Make the next ``count`` publishes raise ``error`` (a ConnectionError by default) and record nothing."""
        with self._lock:
            self._failures.extend([error or ConnectionError("RecordingBus: simulated broker outage")] * count)

    def subscribe(self, name: str, event_type: str, role: str, deliver: Delivery) -> None:
        """Register a subscriber under a unique name.

        Raises:
            ValueError: The name is empty or already taken.
        """
        self._table.add(name, event_type, role, deliver)

    def publish(self, message: Message) -> None:
        """Record the message, and deliver it now if ``deliver_immediately``.

        Raises:
            BusClosed: The bus was closed.
            DeliveryFailed: Delivering immediately, some subscribers raised.
            Exception: The error given to ``fail_next``.
        """
        with self._lock:
            if self.closed:
                raise BusClosed(f"Cannot publish {message.type} {message.id}: the bus is closed")
            if self._failures:
                raise self._failures.pop(0)
            self._published.append(message)
            if not self.deliver_immediately:
                self._undelivered.append(message)
                return
        self._deliver(message)

    def deliver_pending(self) -> int:
        """Deliver the recorded, undelivered messages in order; return how many were delivered.

        Raises:
            DeliveryFailed: A message failed for some subscribers; it and later messages stay undelivered.
        """
        delivered = 0
        while True:
            with self._lock:
                if not self._undelivered:
                    return delivered
                message = self._undelivered[0]
            self._deliver(message)
            with self._lock:
                self._undelivered.remove(message)
            delivered += 1

    def start(self) -> None:
        """Note that the bus was started."""
        self.started = True

    def close(self) -> None:
        """Note that the bus was closed; later publishes raise BusClosed."""
        self.closed = True

    def _deliver(self, message: Message) -> None:
        # Every subscriber gets its turn, exactly as on the in-process bus.
        deliver_to_each(self._table.of_type(message.type), message)


class ManualScheduler:
    """An expiry scheduler that fires only when the test says so.

    ``scheduled`` keeps every ``(order_id, fire_at)`` ever scheduled; ``fire_due(now)`` calls
    the expire callback for the pending timers due at ``now``, earliest first.

    Examples:
        >>> scheduler, expired = ManualScheduler(), []
        >>> scheduler.start(expired.append)
        >>> scheduler.schedule("o1", datetime(2026, 1, 1, 12, 1, tzinfo=UTC))
        >>> scheduler.fire_due(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)), scheduler.fire_due(
        ...     datetime(2026, 1, 1, 12, 1, tzinfo=UTC))
        ([], ['o1'])
    """

    name = "manual"

    def __init__(self) -> None:
        self.closed = False
        self._lock = threading.Lock()
        self._expire: ExpireCallback | None = None
        self._scheduled: list[tuple[str, datetime]] = []
        self._pending: list[tuple[datetime, int, str]] = []
        self._fired: list[str] = []

    @property
    def scheduled(self) -> list[tuple[str, datetime]]:
        """Every ``(order_id, fire_at)`` scheduled, in call order (a copy)."""
        with self._lock:
            return list(self._scheduled)

    @property
    def pending(self) -> list[tuple[str, datetime]]:
        """The timers not yet fired, earliest first."""
        with self._lock:
            return [(order_id, fire_at) for fire_at, _, order_id in sorted(self._pending)]

    @property
    def fired(self) -> list[str]:
        """The order ids fired so far, in firing order (a copy)."""
        with self._lock:
            return list(self._fired)

    @property
    def started(self) -> bool:
        """Tell whether ``start`` was called."""
        return self._expire is not None

    def schedule(self, order_id: str, fire_at: datetime) -> None:
        """Record a timer.

        Raises:
            ValueError: ``fire_at`` is naive.
        """
        if fire_at.tzinfo is None:
            raise ValueError("fire_at must be an aware datetime (UTC)")
        with self._lock:
            self._scheduled.append((order_id, fire_at))
            self._pending.append((fire_at, len(self._scheduled), order_id))

    def start(self, expire: ExpireCallback) -> None:
        """Keep the callback that ``fire_due`` calls."""
        self._expire = expire

    def close(self) -> None:
        """Note that the scheduler was closed."""
        self.closed = True

    def fire_due(self, now: datetime) -> list[str]:
        """Call the expire callback for every pending timer due at ``now``; return their order ids.

        A callback that raises propagates; timers after it stay pending.

        Raises:
            RuntimeError: ``start`` was not called.
        """
        return self._fire(lambda fire_at: fire_at <= now)

    def fire_all(self) -> list[str]:
        """Fire every pending timer, due or not; return their order ids."""
        return self._fire(lambda fire_at: True)

    def _fire(self, is_due: Callable[[datetime], bool]) -> list[str]:
        expire = self._expire
        if expire is None:
            raise RuntimeError("ManualScheduler.start(expire) was not called")
        fired: list[str] = []
        while True:
            with self._lock:
                due = sorted(entry for entry in self._pending if is_due(entry[0]))
                if not due:
                    return fired
                entry = due[0]
                self._pending.remove(entry)
                self._fired.append(entry[2])
            fired.append(entry[2])
            expire(entry[2])


class HeldPaymentGateway(FakePaymentGateway):
    """The fake provider, but its first charge waits at the provider until the test lets it go.

    So a test can act while a payment is in flight (a second pay request, a webhook, an expiry):
    wait for :attr:`charging`, act, then set :attr:`release`.

    Args:
        timeout: Seconds the held charge waits for :attr:`release` before failing the test.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        super().__init__()
        self.timeout = timeout
        self.charging = threading.Event()
        """Set once the first charge reached the provider."""
        self.release = threading.Event()
        """Set by the test to let the first charge go on."""

    def charge(self, *, amount: Money, token: str, idempotency_key: str, metadata: Mapping[str, str]) -> ChargeResult:
        """Charge as the fake does, the first call waiting for :attr:`release`."""
        if not self.charging.is_set():
            self.charging.set()
            if not self.release.wait(self.timeout):
                raise AssertionError("The test never released the held charge")
        return super().charge(amount=amount, token=token, idempotency_key=idempotency_key, metadata=metadata)
