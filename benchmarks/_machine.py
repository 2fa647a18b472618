"""What every benchmark records about the machine it ran on: the CPU and its load.

Not a benchmark itself (the leading underscore keeps `tox -e bench` from running it). A ratio
taken on a busy machine can flatter or wrong either side, so each result carries the load
average at its start and end; quote figures whose start load was below 1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def cpu_model() -> str:
    """Return the CPU's model name from /proc/cpuinfo, or ``unknown``."""
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages, rounded to two decimals."""
    return [round(value, 2) for value in os.getloadavg()]


def _processes() -> tuple[dict[int, list[int]], dict[int, float], dict[int, str]]:
    # Every process's children, CPU seconds (user + system) and name, read once from /proc.
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    names: dict[int, str] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            head, tail = stat.rsplit(")", 1)
            fields = tail.split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
            names[int(entry)] = head.split("(", 1)[1]
    return children, times, names


def _walk(
    roots: Iterable[int], children: dict[int, list[int]], names: dict[int, str], *, with_postgres: bool
) -> list[int]:
    todo = list(roots)
    if with_postgres:
        todo += [pid for pid, name in names.items() if name == "postgres"]
    found: list[int] = []
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def process_tree(roots: Iterable[int], *, with_postgres: bool = False) -> list[int]:
    """Return the processes under ``roots``, themselves included, as they are now.

    With ``with_postgres`` the local PostgreSQL server's processes are included too (its backends,
    autovacuum workers and checkpointer are nobody's children here).
    """
    children, _, names = _processes()
    return _walk(roots, children, names, with_postgres=with_postgres)


def tree_cpu_seconds(roots: Iterable[int], *, with_postgres: bool = False) -> float:
    """CPU time (user + system) used so far by the processes under ``roots`` (see :func:`process_tree`)."""
    children, times, names = _processes()  # one read of /proc for the tree and its times
    return sum(times.get(pid, 0.0) for pid in _walk(roots, children, names, with_postgres=with_postgres))


def wait_for_quiet(
    max_load: float,
    *,
    timeout: float,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, float]:
    """Wait until the 1-minute load is under ``max_load``; return whether it got there, and the seconds waited.

    Another job's CPU would be billed to whichever side happens to run beside it, and a run lifts
    the load of a 2-core machine to 2 or 3 for about a minute after it ends: measuring starts on a
    quiet machine. After ``timeout`` it measures anyway (``say`` is told, and the caller's report
    should say so too).
    """
    waited = 0.0
    while (load := os.getloadavg()[0]) >= max_load:
        if waited >= timeout:
            if say is not None:
                say(f"load still {load:.2f} after {timeout:.0f} s: measuring anyway")
            return False, waited
        if say is not None and not waited:
            say(f"waiting for a quiet machine (1-minute load {load:.2f}, want < {max_load})")
        sleep(5.0)
        waited += 5.0
    return True, waited


def settle(roots: Iterable[int], *, with_postgres: bool = False, timeout: float = 60.0) -> float:
    """Wait until the processes under ``roots`` use under a tenth of a CPU; return the seconds waited.

    Before each phase of a benchmark: what the last phase left running (events still being
    consumed, PostgreSQL's autovacuum after a burst of writes) would otherwise slow the next
    phase, whichever side it belongs to; only a side that always runs first would escape it.
    """
    roots = list(roots)
    began = time.monotonic()
    before = tree_cpu_seconds(roots, with_postgres=with_postgres)
    while time.monotonic() - began < timeout:
        time.sleep(0.5)
        now = tree_cpu_seconds(roots, with_postgres=with_postgres)
        if now - before < 0.05:
            break
        before = now
    return round(time.monotonic() - began, 1)
