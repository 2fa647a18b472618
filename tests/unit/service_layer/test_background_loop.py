"""The background loop: rounds on its interval, sooner when nudged, and a burst of nudges in one round."""

from __future__ import annotations

import threading

from eventhive_core.service_layer.background import Loop


def test_a_burst_of_nudges_is_taken_in_one_round_after_the_loop_settles() -> None:
    rounds: list[int] = []
    first_round_done = threading.Event()
    second_round_done = threading.Event()

    def work() -> None:
        rounds.append(len(rounds))
        (second_round_done if first_round_done.is_set() else first_round_done).set()

    # A long interval: every round after the first comes from a nudge; a long settle: the whole
    # burst below lands while the loop waits to take it.
    loop = Loop("test", work, interval=60, settle=1.0)
    loop.start()
    try:
        assert first_round_done.wait(5)
        for _ in range(20):
            loop.nudge()
        assert second_round_done.wait(5)
    finally:
        loop.stop()

    assert rounds == [0, 1]


def test_without_settling_a_nudge_runs_a_round_at_once_and_stop_ends_the_thread() -> None:
    first, second = threading.Event(), threading.Event()
    count: list[int] = []

    def work() -> None:
        count.append(1)
        (second if first.is_set() else first).set()

    loop = Loop("test", work, interval=60)
    loop.start()
    try:
        assert first.wait(5)
        loop.nudge()
        assert second.wait(5)
    finally:
        loop.stop()
    assert loop._thread is None
