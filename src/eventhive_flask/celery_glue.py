"""``init_celery(app)``: the Flask docs' Celery pattern, wired to the app's Hive.

The Celery app is built from the Flask app's ``CELERY`` config (Celery's lower-case setting
names), with the broker taken from Celery's standard ``CELERY_BROKER_URL`` environment variable
when it is set (copied into ``app.config["CELERY"]``, as Celery itself lets it win). Every task
runs inside an app context, so tasks and plugins may use ``current_hive``. EventHive's own tasks
(``eventhive.*``) are registered and routed to the ``queue`` of ``EVENTHIVE_SCHEDULER_OPTIONS``
(default ``eventhive``), beat gets the sweeper and relay entries, and the app's Hive is bound to
the Celery app so the tasks find it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from eventhive_core.adapters.celery import (
    WORKER_DEFAULTS,
    CeleryOptions,
    bind_hive,
    configure_celery,
    keep_eventhive_logging,
)
from eventhive_core.adapters.celery.options import BROKER_URL_ENV
from eventhive_flask.state import state_of

if TYPE_CHECKING:
    from celery import Celery
    from flask import Flask

#: The key of the Celery app in ``app.extensions`` (the Flask docs' choice).
EXTENSION_KEY = "celery"


def celery_config(app: Flask, options: CeleryOptions | None = None) -> dict[str, Any]:
    """Return the app's ``CELERY`` settings, completed, and store them back in ``app.config["CELERY"]``.

    ``CELERY_BROKER_URL`` from the environment is copied in (it wins, as in Celery). What the
    ``CELERY`` dict leaves out is taken from EventHive's Celery options when they say it
    (``broker_url``, ``transport_options``), so an environment-only deployment can set both.
    """
    config = dict(app.config.get("CELERY") or {})
    broker = os.environ.get(BROKER_URL_ENV)
    if broker:
        config["broker_url"] = broker
    if options is not None:
        if options.broker_url and "broker_url" not in config:
            config["broker_url"] = options.broker_url
        if options.transport_options and "broker_transport_options" not in config:
            config["broker_transport_options"] = dict(options.transport_options)
    app.config["CELERY"] = config
    return config


def init_celery(app: Flask) -> Celery:
    """Build (once) the Celery app for ``app`` and bind the app's Hive to it; return the Celery app.

    Call it after ``EventHive(app)``. The Celery app is kept in ``app.extensions["celery"]``
    and made Celery's default app, so ``@shared_task`` functions of the project use it too.

    Raises:
        RuntimeError: EventHive is not set up on ``app``.
    """
    from celery import Celery, Task

    existing = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    hive = state_of(app).hive
    config = celery_config(app, CeleryOptions.from_settings(hive.settings))

    class FlaskTask(Task):  # type: ignore[misc]
        """A task that runs inside the Flask app's context."""

        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update({**WORKER_DEFAULTS, **config})
    # An app built here exists for EventHive first: let `celery worker` without -Q consume our queue.
    configure_celery(celery_app, hive.settings, default_queue="task_default_queue" not in config)
    bind_hive(celery_app, hive)
    celery_app.set_default()
    app.extensions[EXTENSION_KEY] = celery_app
    return celery_app


__all__ = ["EXTENSION_KEY", "celery_config", "init_celery", "keep_eventhive_logging"]
