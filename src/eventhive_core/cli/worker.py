"""``eventhive worker``: a Celery worker (and beat) for EventHive's tasks, for deployments without Flask.

The Hive comes from the checked ``EVENTHIVE_*`` environment, the broker from
``CELERY_BROKER_URL``. Celery is imported only when the command runs (the ``celery`` extra).
"""

from __future__ import annotations

import click

from eventhive_core.cli.context import source_of
from eventhive_core.domain.errors import EventHiveError


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
        run_worker(options, bootstrap(settings))
    except EventHiveError as exc:
        raise click.ClickException(exc.message) from exc


__all__ = ["worker"]
