"""The HTTP load generator the HTTP benchmarks share: client threads with keep-alive connections on loopback.

Not a benchmark itself (the leading underscore keeps `tox -e bench` from running it). Each client
thread owns one ``http.client`` connection and sends its own request over and over, for a number of
seconds (``timed``) or a number of times (``attempts``, for races), timing each round trip.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    """One client's request, sent again and again: ``ok`` is the status that counts as success."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    ok: int = 201


def _run(
    port: int, calls: list[Call], *, seconds: float | None, attempts: int | None
) -> tuple[list[float], Counter[int], int, float]:
    latencies: list[list[float]] = [[] for _ in calls]
    statuses: list[Counter[int]] = [Counter() for _ in calls]
    failures = [0] * len(calls)
    start = threading.Barrier(len(calls) + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        call = calls[index]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        sent = 0
        while time.perf_counter() < stop_at[0] and (attempts is None or sent < attempts):
            began = time.perf_counter()
            conn.request(call.method, call.path, body=call.body, headers=call.headers)
            response = conn.getresponse()
            response.read()
            latencies[index].append(time.perf_counter() - began)
            statuses[index][response.status] += 1
            if response.status != call.ok:
                failures[index] += 1
            sent += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    # A race has no clock of its own; an hour bounds it all the same.
    stop_at[0] = time.perf_counter() + (seconds if seconds is not None else 3600.0)
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return sorted(x for per in latencies for x in per), sum(statuses, Counter()), sum(failures), elapsed


def timed(port: int, calls: list[Call], seconds: float) -> dict[str, float]:
    """Send every client's call as fast as it answers for ``seconds``; requests per second and latencies.

    ``failures`` counts the answers whose status is not the call's ``ok``.
    """
    every, _, failures, elapsed = _run(port, calls, seconds=seconds, attempts=None)
    return {
        "requests": len(every),
        "failures": failures,
        "rps": round(len(every) / elapsed, 1),
        "p50_ms": round(statistics.median(every) * 1000, 2),
        "p95_ms": round(every[int(len(every) * 0.95) - 1] * 1000, 2),
    }


def attempts(port: int, calls: list[Call], count: int) -> dict[int, int]:
    """Send every client's call ``count`` times, all clients at once; how many answers had each status."""
    return dict(_run(port, calls, seconds=None, attempts=count)[1])
