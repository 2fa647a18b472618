from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from eventhive_core.adapters.memory_denylist import PURGE_EVERY, MemoryDenylist
from eventhive_core.testing.fakes import FrozenClock

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def denylist(clock: FrozenClock) -> MemoryDenylist:
    return MemoryDenylist(clock)


def test_an_empty_denylist_refuses_nothing(denylist: MemoryDenylist) -> None:
    assert not denylist.is_denied("jti-1", "user-1")


def test_a_denied_token_is_refused_until_its_time_and_then_forgotten(
    denylist: MemoryDenylist, clock: FrozenClock
) -> None:
    denylist.deny_token("jti-1", START + timedelta(minutes=5))

    assert denylist.is_denied("jti-1", "user-1")
    assert not denylist.is_denied("jti-2", "user-1")
    clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    assert denylist.is_denied("jti-1", "user-1")
    clock.advance(timedelta(microseconds=1))
    assert not denylist.is_denied("jti-1", "user-1")
    assert repr(denylist) == "MemoryDenylist(tokens=0, users=0)"


def test_a_denied_user_has_every_token_refused_until_its_time(denylist: MemoryDenylist, clock: FrozenClock) -> None:
    denylist.deny_user("user-1", START + timedelta(hours=1))

    assert denylist.is_denied("any-token", "user-1")
    assert not denylist.is_denied("any-token", "user-2")
    clock.advance(timedelta(hours=1))
    assert not denylist.is_denied("any-token", "user-1")


def test_denying_until_a_time_already_past_stores_nothing(denylist: MemoryDenylist) -> None:
    denylist.deny_token("jti-1", START)
    denylist.deny_user("user-1", START - timedelta(seconds=1))

    assert not denylist.is_denied("jti-1", "user-1")
    assert repr(denylist) == "MemoryDenylist(tokens=0, users=0)"


def test_denying_again_keeps_the_later_time(denylist: MemoryDenylist, clock: FrozenClock) -> None:
    denylist.deny_user("user-1", START + timedelta(hours=2))
    denylist.deny_user("user-1", START + timedelta(hours=1))

    clock.advance(timedelta(hours=1, minutes=30))
    assert denylist.is_denied("jti", "user-1")


def test_expired_entries_are_dropped_in_bulk_by_a_later_write(denylist: MemoryDenylist, clock: FrozenClock) -> None:
    for n in range(100):
        denylist.deny_token(f"jti-{n}", START + timedelta(seconds=1))
    clock.advance(PURGE_EVERY)

    denylist.deny_token("jti-new", clock.now() + timedelta(seconds=1))

    assert repr(denylist) == "MemoryDenylist(tokens=1, users=0)"


def test_a_naive_time_is_a_programming_error(denylist: MemoryDenylist) -> None:
    with pytest.raises(ValueError, match="aware"):
        denylist.deny_token("jti-1", datetime(2026, 1, 2))


def test_threads_denying_and_checking_at_once_lose_no_entry(denylist: MemoryDenylist) -> None:
    until = START + timedelta(hours=1)

    def deny(first: int) -> None:
        for n in range(first, first + 500):
            denylist.deny_token(f"jti-{n}", until)
            denylist.is_denied(f"jti-{n}", "user")

    threads = [threading.Thread(target=deny, args=(start,)) for start in range(0, 4000, 500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(denylist.is_denied(f"jti-{n}", "user") for n in range(4000))
