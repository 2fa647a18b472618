"""The in-process rate-limit counters: exact as limits' own, without starting a thread per burst."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("flask_limiter")

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from eventhive_flask.limit_storage import SCHEME, SweptMemoryStorage


def _timers() -> int:
    return sum(isinstance(thread, threading.Timer) for thread in threading.enumerate())


def test_the_scheme_gives_the_swept_storage() -> None:
    assert isinstance(storage_from_string(f"{SCHEME}://"), SweptMemoryStorage)


def test_a_burst_of_hits_starts_no_timer_thread_and_counts_exactly() -> None:
    limiter = MovingWindowRateLimiter(storage_from_string(f"{SCHEME}://"))
    limit = parse("50 per minute")
    before = _timers()

    allowed = [limiter.hit(limit, "user", "ann") for _ in range(60)]

    assert allowed == [True] * 50 + [False] * 10
    assert _timers() == before


def test_the_stock_memory_storage_would_start_timer_threads() -> None:
    # What this storage exists for; if limits stops doing it, this storage can go.
    limiter = MovingWindowRateLimiter(storage_from_string("memory://"))
    started: list[threading.Thread] = []
    original = threading.Timer.start

    def counting(timer: threading.Timer) -> None:
        started.append(timer)
        original(timer)

    threading.Timer.start = counting  # type: ignore[method-assign]
    try:
        for _ in range(3):
            limiter.hit(parse("50 per minute"), "user", "ann")
            time.sleep(0.03)  # past the stock timer's 10 ms
    finally:
        threading.Timer.start = original  # type: ignore[method-assign]

    assert started


def test_expired_counters_are_swept_on_a_later_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = SweptMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    assert limiter.hit(parse("5 per second"), "user", "ann")
    assert "LIMITER/user/ann/5/1/second" in storage.events

    later = time.time() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert limiter.hit(parse("5 per second"), "user", "bob")

    assert storage.events["LIMITER/user/ann/5/1/second"] == []  # emptied, as limits' own sweep does
    assert len(storage.events["LIMITER/user/bob/5/1/second"]) == 1
