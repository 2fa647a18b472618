"""Keep beat's idle ticks out of the worker's log: log what changed, not that nothing did.

Beat sends the relay every ``EVENTHIVE_OUTBOX_POLL_INTERVAL`` (1 s by default) and the sweeper
every ``EVENTHIVE_SWEEP_INTERVAL``. At Celery's INFO level each send writes three lines (beat's
"Sending due task", the worker's "received" and "succeeded ...: 0"), which in a quiet deployment
is most of the log and buries the lines an operator looks for. :class:`IdleTickFilter` drops
those three lines for the two periodic tasks while they did nothing; a tick that published or
expired something keeps its "succeeded" line, and the tasks log what they did themselves.
Everything comes back with ``--loglevel DEBUG``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from eventhive_core.adapters.celery.beat import RELAY_ENTRY, SWEEP_ENTRY
from eventhive_core.adapters.celery.task_names import RELAY_OUTBOX, SWEEP_EXPIRED

#: The periodic tasks whose idle runs are not logged.
PERIODIC_TASKS = frozenset({RELAY_OUTBOX, SWEEP_EXPIRED})
#: Their beat entries.
PERIODIC_ENTRIES = frozenset({RELAY_ENTRY, SWEEP_ENTRY})
#: What an idle run returns, as Celery writes it in its "succeeded" line.
IDLE_RESULT = "0"

#: The Celery loggers that write the three lines, and the filter kind each needs.
_RECEIVED_LOGGER = "celery.worker.strategy"
_TRACE_LOGGER = "celery.app.trace"
_BEAT_LOGGER = "celery.beat"


class IdleTickFilter(logging.Filter):
    """Drop Celery's log lines about periodic EventHive tasks that changed nothing.

    Attached to Celery's own loggers by :func:`quiet_idle_ticks`; a logger enabled for DEBUG
    keeps every line.

    Examples:
        >>> idle = {"name": "eventhive.relay_outbox", "return_value": "0"}
        >>> tick = logging.LogRecord("celery.app.trace", logging.INFO, "", 0, "Task %(name)s succeeded", (idle,), None)
        >>> IdleTickFilter().filter(tick)
        False
        >>> tick.args = {"name": "eventhive.relay_outbox", "return_value": "3"}
        >>> IdleTickFilter().filter(tick)
        True
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a line about an idle periodic tick (unless its logger shows DEBUG)."""
        if not _about_idle_tick(record):
            return True
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _about_idle_tick(record: logging.LogRecord) -> bool:
    if record.name == _BEAT_LOGGER:
        # "Scheduler: Sending due task %s (%s)", entry name and task name.
        args = record.args
        return isinstance(args, tuple) and len(args) == 2 and args[0] in PERIODIC_ENTRIES
    context = record.args if isinstance(record.args, Mapping) else getattr(record, "data", None)
    if not isinstance(context, Mapping) or context.get("name") not in PERIODIC_TASKS:
        return False
    if record.name == _RECEIVED_LOGGER:
        return "received" in str(record.msg)
    # The trace logger's success line carries the result; failures and retries are kept.
    return "succeeded" in str(record.msg) and context.get("return_value") == IDLE_RESULT


def quiet_idle_ticks() -> None:
    """Attach one :class:`IdleTickFilter` to each Celery logger that writes tick lines (idempotent)."""
    for name in (_RECEIVED_LOGGER, _TRACE_LOGGER, _BEAT_LOGGER):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, IdleTickFilter) for existing in logger.filters):
            logger.addFilter(IdleTickFilter())


__all__ = ["IDLE_RESULT", "PERIODIC_ENTRIES", "PERIODIC_TASKS", "IdleTickFilter", "quiet_idle_ticks"]
