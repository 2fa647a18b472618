"""Keep EventHive's log format in Celery's worker and beat, instead of Celery's own.

A Celery worker (and beat) configures logging as it starts unless a receiver of its
``setup_logging`` signal does it instead. The ``eventhive worker`` command, and the reference
deployment's ``eventhive_flask.celery_app``, connect one that keeps what
:func:`~eventhive_core.observability.logs.configure_logging` set up: a worker's lines are then
JSON (or console) lines with the request id, like the web process's. Celery's ``--loglevel``
still applies unless ``EVENTHIVE_LOG_LEVEL`` is set.
"""

from __future__ import annotations

import os
from typing import Any

from eventhive_core.observability.logs import LEVEL_ENV, configure_logging


def _configure_for_celery(loglevel: int | str | None = None, **kwargs: Any) -> None:
    # Celery hands over its --loglevel; an explicit EVENTHIVE_LOG_LEVEL wins over it.
    configure_logging(level=None if os.environ.get(LEVEL_ENV) else loglevel)


def keep_eventhive_logging() -> None:
    """Make Celery's worker and beat in this process log in EventHive's format (idempotent).

    For programs only, like ``configure_logging`` itself: an application that runs its own
    Celery worker keeps Celery's logging unless it calls this.
    """
    from celery.signals import setup_logging

    setup_logging.connect(_configure_for_celery, weak=False, dispatch_uid="eventhive.logging")


__all__ = ["keep_eventhive_logging"]
