"""The beat entries: the sweeper (the safety net under ETA tasks) and the outbox relay."""

from __future__ import annotations

from typing import Any

from eventhive_core.adapters.celery.task_names import RELAY_OUTBOX, SWEEP_EXPIRED
from eventhive_core.settings import HiveSettings

#: Beat entry names (keys of ``beat_schedule``).
SWEEP_ENTRY = "eventhive-sweep-expired"
RELAY_ENTRY = "eventhive-relay-outbox"


def beat_schedule(settings: HiveSettings, queue: str) -> dict[str, dict[str, Any]]:
    """Return the beat entries for ``settings``: sweep every ``sweep_interval``, relay every ``outbox_poll_interval``.

    Each message expires after one period: when workers were down, the backlog of identical
    sweeps and relays is dropped instead of run one after another (the next one does it all).

    Examples:
        >>> from eventhive_core.settings import HiveSettings
        >>> entries = beat_schedule(HiveSettings(sweep_interval=1), "q")
        >>> entries["eventhive-sweep-expired"]["schedule"], entries["eventhive-sweep-expired"]["options"]
        (1.0, {'queue': 'q', 'expires': 1.0})
    """
    sweep = settings.sweep_interval.total_seconds()
    relay = settings.outbox_poll_interval.total_seconds()
    return {
        SWEEP_ENTRY: {
            "task": SWEEP_EXPIRED,
            "schedule": sweep,
            "options": {"queue": queue, "expires": max(sweep, 1.0)},
        },
        RELAY_ENTRY: {"task": RELAY_OUTBOX, "schedule": relay, "options": {"queue": queue, "expires": max(relay, 1.0)}},
    }


__all__ = ["RELAY_ENTRY", "SWEEP_ENTRY", "beat_schedule"]
