"""What every benchmark records about the machine it ran on: the CPU and its load.

Not a benchmark itself (the leading underscore keeps `tox -e bench` from running it). A ratio
taken on a busy machine can flatter or wrong either side, so each result carries the load
average at its start and end; quote figures whose start load was below 1.
"""

from __future__ import annotations

import os


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
