"""``eventhive worker``: a Celery worker (and beat) for EventHive's tasks, for deployments without Flask.

The Hive comes from the checked ``EVENTHIVE_*`` environment, the broker from
``CELERY_BROKER_URL``. Celery is imported only when the command runs (the ``celery`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from eventhive_core.cli.context import source_of
from eventhive_core.domain.errors import EventHiveError

if TYPE_CHECKING:
    from eventhive_core.hive import Hive


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
@click.option(
    "--metrics-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics at /metrics on this port (none by default).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics port listens on (with --metrics-port).",
)
@click.pass_context
def worker(
    ctx: click.Context,
    beat: bool,
    queue: str | None,
    concurrency: int,
    pool: str,
    loglevel: str,
    schedule_file: str | None,
    hostname: str | None,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run a Celery worker for EventHive's tasks.

    The tasks are expiries, sweeps, the outbox relay and event delivery.

    The Hive comes from EVENTHIVE_* variables and the broker from CELERY_BROKER_URL. Set
    EVENTHIVE_SCHEDULER=celery in every process so that orders get their expiry tasks.
    """
    try:
        import celery  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"eventhive worker needs Celery, which is not installed ({exc.name}): "
            'pip install "eventhive-tickets[celery]"'
        ) from exc
    from eventhive_core.adapters.celery.worker import WorkerOptions, run_worker
    from eventhive_core.bootstrap import bootstrap

    settings = source_of(ctx).settings
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
        hive = bootstrap(settings)
        if metrics_port is not None:
            _serve_metrics(hive, metrics_host, metrics_port, prefork=pool == "prefork")
        run_worker(options, hive)
    except EventHiveError as exc:
        raise click.ClickException(exc.message) from exc


def _serve_metrics(hive: Hive, host: str, port: int, *, prefork: bool) -> None:
    from eventhive_core.observability import metrics

    if prefork:
        metrics.multiprocess_for_children()  # before Celery forks its pool: the children's counts add up
    try:
        address, bound = metrics.serve_metrics(host, port, hive.metrics_collectors())
    except OSError as exc:
        hive.close()
        raise click.ClickException(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; choose another --metrics-port"
        ) from exc
    click.echo(f"metrics: http://{address}:{bound}/metrics")


__all__ = ["worker"]
