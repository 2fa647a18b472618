"""Set up a Celery app for EventHive: routes to our queue, beat entries, the Hive binding.

``make_celery(hive)`` builds a whole app for a worker without Flask (``eventhive worker`` uses
it); ``configure_celery(app, settings)`` prepares an app someone else built (``init_celery`` in
the Flask glue does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventhive_core.adapters.celery.beat import beat_schedule
from eventhive_core.adapters.celery.binding import bind_hive
from eventhive_core.adapters.celery.options import BROKER_URL_ENV, CeleryOptions
from eventhive_core.adapters.celery.routing import apply_defaults
from eventhive_core.adapters.celery.tick_logging import quiet_idle_ticks
from eventhive_core.domain.errors import ConfigurationError
from eventhive_core.settings import HiveSettings

if TYPE_CHECKING:
    from celery import Celery

    from eventhive_core.hive import Hive

#: Celery settings EventHive relies on, applied by :func:`make_celery` unless ``config`` says otherwise.
WORKER_DEFAULTS: Mapping[str, Any] = {
    # One process, threads inside: the Hive (engine, pools) is built once and never forked.
    "worker_pool": "threads",
    "worker_concurrency": 2,
    "task_serializer": "json",
    "accept_content": ["json"],
    "enable_utc": True,
    "timezone": "UTC",
    # A worker killed mid-task must not lose it: the broker hands unacknowledged messages out again.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_send_task_events": False,
    "task_ignore_result": True,
}


def configure_celery(
    celery_app: Celery, settings: HiveSettings, *, queue: str | None = None, default_queue: bool = False
) -> str:
    """Register EventHive's tasks on ``celery_app``, route them and add the beat entries; return the queue.

    Args:
        celery_app: The app (not yet finalized, or finalized: both work).
        settings: The Hive's settings (queue option, sweep and relay intervals).
        queue: Our tasks' queue; default: the Celery adapters' ``queue`` option, else ``eventhive``.
        default_queue: Also make it the app's default queue, so ``celery worker`` without ``-Q``
            consumes it (for apps that exist only to run EventHive).

    It also keeps the sweeper's and relay's idle ticks out of Celery's INFO log
    (:mod:`~eventhive_core.adapters.celery.tick_logging`).
    """
    # Importing the module registers the shared tasks with every Celery app.
    from eventhive_core.adapters.celery import tasks  # noqa: F401

    chosen = queue or CeleryOptions.from_settings(settings).queue
    apply_defaults(celery_app, chosen)
    if default_queue:
        celery_app.conf.task_default_queue = chosen
    schedule = dict(celery_app.conf.beat_schedule or {})
    schedule.update(beat_schedule(settings, chosen))
    celery_app.conf.beat_schedule = schedule
    quiet_idle_ticks()
    return chosen


def make_celery(
    hive: Hive,
    *,
    broker_url: str | None = None,
    queue: str | None = None,
    config: Mapping[str, Any] | None = None,
    name: str = "eventhive",
) -> Celery:
    """Build a Celery app whose workers run EventHive's tasks against ``hive``, and bind them.

    Args:
        hive: The Hive the tasks use.
        broker_url: The broker; default: the Celery adapters' ``broker_url`` option, else
            ``CELERY_BROKER_URL``.
        queue: Our tasks' queue (also the app's default queue).
        config: More Celery settings; they win over :data:`WORKER_DEFAULTS`.
        name: The app's main name.

    Raises:
        ConfigurationError: No broker URL anywhere.
    """
    from celery import Celery

    options = CeleryOptions.from_settings(hive.settings)
    url = broker_url or options.resolved_broker_url()
    if not url:
        raise ConfigurationError(
            f"No Celery broker: set {BROKER_URL_ENV} (e.g. redis://127.0.0.1:6379/0), or broker_url in "
            "EVENTHIVE_SCHEDULER_OPTIONS."
        )
    app = Celery(name, broker=url, set_as_current=False)
    app.conf.update(dict(WORKER_DEFAULTS))
    if options.transport_options:
        app.conf.broker_transport_options = dict(options.transport_options)
    if config:
        app.conf.update(dict(config))
    configure_celery(app, hive.settings, queue=queue, default_queue=True)
    bind_hive(app, hive)
    return app


__all__ = ["WORKER_DEFAULTS", "apply_defaults", "configure_celery", "make_celery"]
