"""Celery adapters: the ``celery`` expiry scheduler and event bus, EventHive's tasks, beat, a worker.

Needs the ``celery`` extra. Nothing here builds a Celery app at import time: call
:func:`make_celery` (a worker without Flask), or ``eventhive_flask.init_celery(app)``.
"""

from __future__ import annotations

from eventhive_core.adapters.celery.app import WORKER_DEFAULTS, configure_celery, make_celery
from eventhive_core.adapters.celery.beat import beat_schedule
from eventhive_core.adapters.celery.binding import bind_hive, hive_for, unbind_hive
from eventhive_core.adapters.celery.bus import CeleryEventBus, UnknownSubscriber
from eventhive_core.adapters.celery.log_setup import keep_eventhive_logging
from eventhive_core.adapters.celery.options import DEFAULT_QUEUE, CeleryOptions
from eventhive_core.adapters.celery.routing import apply_defaults
from eventhive_core.adapters.celery.scheduler import CeleryScheduler
from eventhive_core.adapters.celery.sender import TaskSender

__all__ = [
    "DEFAULT_QUEUE",
    "WORKER_DEFAULTS",
    "CeleryEventBus",
    "CeleryOptions",
    "CeleryScheduler",
    "TaskSender",
    "UnknownSubscriber",
    "apply_defaults",
    "beat_schedule",
    "bind_hive",
    "configure_celery",
    "hive_for",
    "keep_eventhive_logging",
    "make_celery",
    "unbind_hive",
]
