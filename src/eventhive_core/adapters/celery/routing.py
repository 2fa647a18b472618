"""Route EventHive's tasks on a Celery app: shared by the worker's app and the sender's own producer app.

It sits below both :mod:`~eventhive_core.adapters.celery.app` and
:mod:`~eventhive_core.adapters.celery.sender`, so the sender can build a producer app without
importing the module that registers the tasks (which import the bus, which imports the sender).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery


def apply_defaults(celery_app: Celery, queue: str) -> None:
    """Route every ``eventhive.*`` task to ``queue`` and keep the app's own routes after ours."""
    existing = celery_app.conf.task_routes
    ours = {"eventhive.*": {"queue": queue}}
    if existing is None:
        routes: object = (ours,)
    elif isinstance(existing, list | tuple):
        routes = (ours, *existing)
    else:
        routes = (ours, existing)
    celery_app.conf.task_routes = routes
    celery_app.conf.broker_connection_retry_on_startup = True


__all__ = ["apply_defaults"]
