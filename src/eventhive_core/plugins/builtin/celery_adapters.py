"""Built-in plugin: the ``celery`` expiry scheduler and event bus, and ``eventhive worker``.

``EVENTHIVE_SCHEDULER=celery`` sends one ETA task per order after its commit;
``EVENTHIVE_EVENT_BUS=celery`` delivers each event to each subscriber as a task. Both read
``{"queue": ..., "broker_url": ..., "transport_options": {...}}`` from their ``*_OPTIONS``
setting; the broker defaults to ``CELERY_BROKER_URL``. Celery itself is imported only when one
of them is chosen or the command runs (the ``celery`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from eventhive_core.plugins.factories import AddCommand, RegisterEventBus, RegisterScheduler
from eventhive_core.plugins.markers import hookimpl
from eventhive_core.ports.event_bus import EventBus
from eventhive_core.ports.scheduler import ExpiryScheduler
from eventhive_core.settings import HiveSettings


def make_celery_scheduler(settings: HiveSettings, options: Mapping[str, Any]) -> ExpiryScheduler:
    """Build the scheduler that sends ``eventhive.expire_order`` with an ETA.

    Raises:
        ConfigurationError: Unknown option keys.
    """
    from eventhive_core.adapters.celery import CeleryOptions, CeleryScheduler, TaskSender

    return CeleryScheduler(TaskSender(CeleryOptions.from_mapping(options)))


def make_celery_bus(settings: HiveSettings, options: Mapping[str, Any]) -> EventBus:
    """Build the bus that sends ``eventhive.deliver_event`` once per subscriber.

    Raises:
        ConfigurationError: Unknown option keys.
    """
    from eventhive_core.adapters.celery import CeleryEventBus, CeleryOptions, TaskSender

    return CeleryEventBus(TaskSender(CeleryOptions.from_mapping(options, setting="EVENTHIVE_EVENT_BUS_OPTIONS")))


@click.command("worker")
@click.option("--beat", is_flag=True, help="Also run beat (sweeper and outbox relay); run one beat per deployment.")
@click.option("--queue", "-Q", default=None, help="Queue to consume (default: the queue option, else eventhive).")
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(min=1), help="Worker threads.")
@click.option(
    "--pool",
    default="threads",
    show_default=True,
    type=click.Choice(["threads", "solo", "prefork"]),
    help="Celery pool; threads keeps one Hive per process.",
)
@click.option("--loglevel", "-l", default="INFO", show_default=True, help="Celery log level.")
@click.option("--schedule-file", default=None, help="Where beat keeps its state (with --beat).")
@click.option("--hostname", "-n", default=None, help="Worker node name (Celery's -n).")
def worker(
    beat: bool,
    queue: str | None,
    concurrency: int,
    pool: str,
    loglevel: str,
    schedule_file: str | None,
    hostname: str | None,
) -> None:
    """Run a Celery worker for EventHive's tasks (expiries, sweeps, relay, event delivery).

    The Hive comes from EVENTHIVE_* variables and the broker from CELERY_BROKER_URL. Set
    EVENTHIVE_SCHEDULER=celery in every process so that orders get their expiry tasks.
    """
    try:
        from eventhive_core.adapters.celery.worker import WorkerOptions, run_worker
    except ImportError as exc:
        raise click.ClickException(f'Celery is not installed ({exc}): pip install "eventhive-tickets[celery]"') from exc
    from pydantic import ValidationError

    from eventhive_core.domain.errors import EventHiveError

    options = WorkerOptions(
        beat=beat,
        queue=queue,
        concurrency=concurrency,
        pool=pool,
        loglevel=loglevel,
        schedule_file=schedule_file,
        hostname=hostname,
    )
    try:
        run_worker(options)
    except EventHiveError as exc:
        raise click.ClickException(exc.message) from exc
    except ValidationError as exc:
        raise click.ClickException(f"Invalid EVENTHIVE_* setting: {exc}") from exc


@hookimpl
def eventhive_register_schedulers(register: RegisterScheduler) -> None:
    """Register ``celery``."""
    register("celery", make_celery_scheduler)


@hookimpl
def eventhive_register_event_buses(register: RegisterEventBus) -> None:
    """Register ``celery``."""
    register("celery", make_celery_bus)


@hookimpl
def eventhive_register_commands(add: AddCommand) -> None:
    """Add ``eventhive worker``."""
    add(worker)


__all__ = ["make_celery_bus", "make_celery_scheduler", "worker"]
