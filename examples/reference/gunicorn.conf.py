"""gunicorn's settings for the reference deployment's web process (the Procfile's ``gunicorn -c``).

What ``eventhive serve`` does for itself, a plain gunicorn gets here: EventHive's log format for
every line (the application's, and gunicorn's own through its logger class), and one Prometheus
multiprocess directory for its workers, so that ``/metrics`` (with ``EVENTHIVE_METRICS_TOKEN``)
adds up every worker's counts. The bind, workers and threads stay on the Procfile's command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from eventhive_core.observability import metrics
from eventhive_core.observability.logs import configure_logging

# Before gunicorn builds its logger (right after reading this file): JSON lines off a terminal.
configure_logging()
logger_class = "eventhive_flask.serve_logging.StructuredGunicornLogger"

# Before gunicorn forks its workers: their metrics go to one directory, emptied at each start.
metrics.multiprocess_for_children(Path(os.environ.get("EVENTHIVE_DATA_DIR", ".")) / "metrics" / "web")


def child_exit(server: Any, worker: Any) -> None:
    """Let the counts of a worker that exited stay, without its live gauges."""
    metrics.process_exited(worker.pid)
