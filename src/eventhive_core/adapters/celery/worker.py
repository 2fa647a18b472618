"""``eventhive worker``: a Celery worker (and beat) for deployments without Flask.

The command (:mod:`eventhive_core.cli.worker`) builds the Hive from the ``EVENTHIVE_*``
environment; the broker comes from ``CELERY_BROKER_URL`` (or ``broker_url`` in
``EVENTHIVE_SCHEDULER_OPTIONS``); the worker consumes the EventHive queue
with a thread pool, so the Hive and its database pool are built once and never forked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eventhive_core.adapters.celery.app import make_celery
from eventhive_core.adapters.celery.log_setup import keep_eventhive_logging
from eventhive_core.observability.logs import is_configured

if TYPE_CHECKING:
    from eventhive_core.hive import Hive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How to run the worker.

    Attributes:
        beat: Also run beat (the sweeper and relay entries) inside this worker; run exactly one beat
            per deployment.
        queue: The queue to consume; default: the adapters' ``queue`` option, else ``eventhive``.
        concurrency: Worker threads.
        pool: Celery pool (``threads`` keeps one Hive per process; ``solo`` for debugging).
        loglevel: Celery's log level.
        schedule_file: Where beat keeps its state (default: Celery's, in the working directory).
        hostname: The worker's node name (``-n``); default: Celery's.
        extra_args: More ``celery worker`` arguments, passed as they are.
    """

    beat: bool = False
    queue: str | None = None
    concurrency: int = 2
    pool: str = "threads"
    loglevel: str = "INFO"
    schedule_file: str | None = None
    hostname: str | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)

    def argv(self, queue: str) -> list[str]:
        """Return the ``celery worker`` arguments for these options.

        Examples:
            >>> WorkerOptions(beat=True, schedule_file="/tmp/beat").argv("eventhive")  # doctest: +NORMALIZE_WHITESPACE
            ['worker', '--pool=threads', '--concurrency=2', '--queues=eventhive', '--loglevel=INFO',
             '--beat', '--schedule-filename=/tmp/beat']
        """
        args = [
            "worker",
            f"--pool={self.pool}",
            f"--concurrency={self.concurrency}",
            f"--queues={queue}",
            f"--loglevel={self.loglevel}",
        ]
        if self.hostname:
            args.append(f"--hostname={self.hostname}")
        if self.beat:
            args.append("--beat")
            if self.schedule_file:
                args.append(f"--schedule-filename={self.schedule_file}")
        args.extend(self.extra_args)
        return args


def run_worker(options: WorkerOptions, hive: Hive) -> None:
    """Run a Celery worker bound to ``hive`` until it is stopped, then close the Hive.

    When this process configured EventHive's logging (the ``eventhive worker`` command does),
    Celery keeps it instead of setting up its own.

    Args:
        options: How to run the worker.
        hive: The Hive the tasks act on (``eventhive worker`` bootstraps it from the environment).

    Raises:
        ConfigurationError: No broker URL.
    """
    settings = hive.settings
    try:
        if settings.scheduler != "celery":
            log.warning(
                "EVENTHIVE_SCHEDULER is %r, not 'celery': this worker gets no expiry tasks; holds end through that "
                "scheduler, the sweeper (beat) and lazy expiry.",
                settings.scheduler,
            )
        if is_configured():
            # The command configured EventHive's log format: Celery keeps it instead of its own.
            keep_eventhive_logging()
        app = make_celery(hive, queue=options.queue)
        queue = str(app.conf.task_default_queue)
        # Consumers of other buses start here; the relay and sweeper come from beat, not threads.
        hive.start(background=False)
        app.worker_main(options.argv(queue))
    finally:
        hive.close()


__all__ = ["WorkerOptions", "run_worker"]
