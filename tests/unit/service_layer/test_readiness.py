"""The readiness probe: each check's outcome, within the timeout, and a hung check never started twice."""

from __future__ import annotations

import threading

from eventhive_core.adapters.inprocess_bus import InProcessBus
from eventhive_core.adapters.memory import MemoryStorage
from eventhive_core.adapters.memory_denylist import MemoryDenylist
from eventhive_core.service_layer.readiness import ReadinessProbe, readiness_checks


class Hung:
    """A check that waits until released, counting how often it was started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = threading.Event()

    def __call__(self, timeout: float) -> None:
        self.started += 1
        self.release.wait(30)


def refused(timeout: float) -> None:
    raise ConnectionRefusedError("[Errno 111] Connection refused")


def test_each_check_has_its_own_outcome_in_the_order_given() -> None:
    hung = Hung()
    probe = ReadinessProbe({"storage": lambda timeout: None, "bus": refused, "denylist": hung})

    readiness = probe.check(timeout=0.2)
    hung.release.set()

    assert list(readiness.checks.items()) == [("storage", "ok"), ("bus", "failed"), ("denylist", "timeout")]
    assert not readiness.ready


def test_probes_that_come_while_a_check_hangs_wait_for_that_same_run() -> None:
    hung = Hung()
    probe = ReadinessProbe({"storage": hung})
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(probe.check(timeout=0.2))) for _ in range(3)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started_while_hung = hung.started
    hung.release.set()

    assert started_while_hung == 1
    assert [a.checks["storage"] for a in answers] == ["timeout"] * 3


def test_a_check_that_answers_again_is_run_anew_by_the_next_probe() -> None:
    hung = Hung()
    probe = ReadinessProbe({"storage": hung})
    assert probe.check(timeout=0.1).checks["storage"] == "timeout"

    hung.release.set()
    assert probe.check(timeout=5).ready  # perhaps the released run's answer, perhaps a new run's
    before = hung.started

    assert probe.check(timeout=5).ready
    assert hung.started == before + 1


def test_a_hives_backends_are_storage_and_bus_and_a_denylist_only_when_it_can_say() -> None:
    class PingingDenylist:
        def check_reachable(self, timeout: float) -> None:
            """Redis would answer PING here."""

    storage, bus = MemoryStorage(), InProcessBus()

    assert list(readiness_checks(storage, bus)) == ["storage", "bus"]
    assert list(readiness_checks(storage, bus, MemoryDenylist())) == ["storage", "bus"]
    assert list(readiness_checks(storage, bus, PingingDenylist())) == ["storage", "bus", "denylist"]  # type: ignore[arg-type]
