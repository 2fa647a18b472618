from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core.adapters.inprocess_scheduler import InProcessScheduler, NoScheduler
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.testing.fakes import FrozenClock

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PATIENCE = 5.0  # seconds to wait for the timer thread before declaring it stuck; never a timing assertion


class WatchedClock(FrozenClock):
    """A FrozenClock that counts how often it is read, so a test can wait for the timer thread to look."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._reads = 0
        self._read = threading.Condition()

    def now(self) -> datetime:
        with self._read:
            self._reads += 1
            self._read.notify_all()
        return super().now()

    def wait_for_reads(self, count: int) -> bool:
        """Wait until the clock has been read ``count`` more times."""
        with self._read:
            target = self._reads + count
            return self._read.wait_for(lambda: self._reads >= target, timeout=PATIENCE)


class Expiries:
    """The expire callback: records order ids and lets a test wait for them."""

    def __init__(self, fail_on: frozenset[str] = frozenset()) -> None:
        self.fired: list[str] = []
        self.fail_on = fail_on
        self._changed = threading.Condition()

    def __call__(self, order_id: str) -> None:
        with self._changed:
            self.fired.append(order_id)
            self._changed.notify_all()
        if order_id in self.fail_on:
            raise RuntimeError(f"cannot expire {order_id}")

    def wait_for(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.fired) >= count, timeout=PATIENCE)


@pytest.fixture
def clock() -> WatchedClock:
    return WatchedClock(START)


@pytest.fixture
def scheduler(clock: WatchedClock) -> Iterator[InProcessScheduler]:
    # A short max_wait makes the thread re-read the clock often, which wait_for_reads relies on.
    scheduler = InProcessScheduler(clock, max_wait=0.01)
    yield scheduler
    scheduler.close()


def settle(scheduler: InProcessScheduler, clock: WatchedClock) -> None:
    """Wait until the timer thread has completed a full pass after the last clock change.

    Each pass reads the clock once, and a pass that fires calls expire before the next read,
    so two reads after now mean every decision about the current time has been carried out.
    The thread only reads the clock while some timer is pending, so keep one pending.
    """
    scheduler.wake()
    assert clock.wait_for_reads(2), "the timer thread did not look at the clock"


def test_both_schedulers_satisfy_the_port(clock: WatchedClock) -> None:
    schedulers: list[ExpiryScheduler] = [InProcessScheduler(clock), NoScheduler()]

    for scheduler in schedulers:
        scheduler.close()


def test_a_timer_fires_when_the_clock_reaches_it_and_not_before(
    scheduler: InProcessScheduler, clock: WatchedClock
) -> None:
    expiries = Expiries()
    scheduler.start(expiries)
    scheduler.schedule("order-1", START + timedelta(seconds=60))

    clock.advance(seconds=59)
    settle(scheduler, clock)
    assert expiries.fired == []
    assert scheduler.pending == 1

    clock.advance(seconds=1)
    scheduler.wake()
    assert expiries.wait_for(1)
    assert expiries.fired == ["order-1"]
    assert scheduler.pending == 0


def test_timers_fire_in_due_order_whatever_order_they_were_scheduled_in(
    scheduler: InProcessScheduler, clock: WatchedClock
) -> None:
    expiries = Expiries()
    scheduler.start(expiries)
    scheduler.schedule("late", START + timedelta(seconds=30))
    scheduler.schedule("early", START + timedelta(seconds=10))
    scheduler.schedule("middle", START + timedelta(seconds=20))
    scheduler.schedule("never", START + timedelta(hours=1))

    clock.advance(seconds=45)
    scheduler.wake()
    assert expiries.wait_for(3)
    settle(scheduler, clock)

    assert expiries.fired == ["early", "middle", "late"]
    assert scheduler.pending == 1


def test_timers_scheduled_before_start_fire_after_start(scheduler: InProcessScheduler, clock: WatchedClock) -> None:
    scheduler.schedule("order-1", START + timedelta(seconds=60))
    scheduler.schedule("order-2", START + timedelta(seconds=61))
    clock.advance(seconds=120)
    expiries = Expiries()

    scheduler.start(expiries)

    assert expiries.wait_for(2)
    assert expiries.fired == ["order-1", "order-2"]


def test_a_timer_already_due_fires_at_once(scheduler: InProcessScheduler) -> None:
    expiries = Expiries()
    scheduler.start(expiries)

    scheduler.schedule("overdue", START - timedelta(minutes=5))

    assert expiries.wait_for(1)
    assert expiries.fired == ["overdue"]


def test_the_same_timer_scheduled_twice_fires_once(scheduler: InProcessScheduler, clock: WatchedClock) -> None:
    expiries = Expiries()
    scheduler.schedule("order-1", START + timedelta(seconds=60))
    scheduler.schedule("order-1", START + timedelta(seconds=60))
    assert scheduler.pending == 1
    scheduler.schedule("sentinel", START + timedelta(hours=1))  # keeps the thread reading the clock
    scheduler.start(expiries)

    clock.advance(seconds=60)
    scheduler.wake()
    assert expiries.wait_for(1)
    settle(scheduler, clock)

    assert expiries.fired == ["order-1"]


def test_a_raising_callback_does_not_kill_the_timer_thread(
    scheduler: InProcessScheduler, clock: WatchedClock, caplog: pytest.LogCaptureFixture
) -> None:
    expiries = Expiries(fail_on=frozenset({"broken"}))
    scheduler.start(expiries)
    scheduler.schedule("broken", START + timedelta(seconds=10))
    scheduler.schedule("fine", START + timedelta(seconds=20))

    with caplog.at_level(logging.ERROR, logger="eventhive_core.adapters.inprocess_scheduler"):
        clock.advance(seconds=30)
        scheduler.wake()
        assert expiries.wait_for(2)

    assert expiries.fired == ["broken", "fine"]
    assert scheduler.running
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)


def test_close_stops_and_joins_the_thread(scheduler: InProcessScheduler, clock: WatchedClock) -> None:
    expiries = Expiries()
    scheduler.start(expiries)
    scheduler.schedule("order-1", START + timedelta(seconds=60))
    assert scheduler.running

    scheduler.close()

    assert not scheduler.running
    clock.advance(seconds=120)
    scheduler.close()  # idempotent
    assert expiries.fired == []


def test_a_closed_scheduler_cannot_start_and_ignores_new_timers(clock: WatchedClock) -> None:
    scheduler = InProcessScheduler(clock)
    scheduler.close()

    scheduler.schedule("order-1", START)
    assert scheduler.pending == 0
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.start(Expiries())


def test_a_scheduler_starts_only_once(scheduler: InProcessScheduler) -> None:
    scheduler.start(Expiries())

    with pytest.raises(RuntimeError, match="already started"):
        scheduler.start(Expiries())


def test_the_callback_may_close_the_scheduler_without_deadlocking(scheduler: InProcessScheduler) -> None:
    closed = threading.Event()

    def expire(order_id: str) -> None:
        scheduler.close()
        closed.set()

    scheduler.start(expire)
    scheduler.schedule("order-1", START)

    assert closed.wait(PATIENCE)
    assert scheduler._thread is not None
    scheduler._thread.join(PATIENCE)
    assert not scheduler.running


def test_the_thread_notices_a_moved_clock_without_being_woken(
    scheduler: InProcessScheduler, clock: WatchedClock
) -> None:
    expiries = Expiries()
    scheduler.start(expiries)
    scheduler.schedule("order-1", START + timedelta(hours=1))

    clock.advance(timedelta(hours=1))

    assert expiries.wait_for(1)


def test_the_default_clock_is_the_system_clock() -> None:
    scheduler = InProcessScheduler()
    fired = threading.Event()
    scheduler.start(lambda order_id: fired.set())
    try:
        scheduler.schedule("order-1", datetime.now(UTC) - timedelta(seconds=1))
        assert fired.wait(PATIENCE)
    finally:
        scheduler.close()


def test_a_naive_fire_time_is_refused(scheduler: InProcessScheduler) -> None:
    with pytest.raises(ValueError, match="aware"):
        scheduler.schedule("order-1", datetime(2026, 1, 1))


def test_the_thread_is_a_named_daemon(scheduler: InProcessScheduler) -> None:
    scheduler.start(Expiries())

    assert scheduler._thread is not None
    assert scheduler._thread.daemon
    assert scheduler._thread.name == "eventhive-expiry-scheduler"


def test_no_scheduler_schedules_nothing() -> None:
    scheduler = NoScheduler()
    expiries = Expiries()

    scheduler.start(expiries)
    scheduler.schedule("order-1", START)
    scheduler.close()

    assert scheduler.name == "none"
    assert expiries.fired == []
