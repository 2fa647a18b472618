"""The reference app's Celery app: ``celery -A eventhive_flask.celery_app worker|beat``.

The one module that builds at import time, because that is what ``celery -A`` imports: the app
from :func:`~eventhive_flask.create_app` (``EVENTHIVE_*`` and ``CELERY_BROKER_URL`` from the
environment), then its Celery app from :func:`~eventhive_flask.celery_glue.init_celery`. Its
worker and beat log in EventHive's format (docs/operations.md, "Logs").
"""

from __future__ import annotations

from eventhive_core.observability.logs import configure_logging
from eventhive_flask.app import create_app
from eventhive_flask.celery_glue import init_celery, keep_eventhive_logging

# A program's module (what `celery -A` runs), so it may choose the process's logging: EventHive's
# format (EVENTHIVE_LOG_FORMAT, EVENTHIVE_LOG_LEVEL), kept by the worker and beat instead of Celery's.
configure_logging()
keep_eventhive_logging()

#: The Flask app the tasks run against.
flask_app = create_app()

#: The Celery app ``celery -A eventhive_flask.celery_app`` finds.
celery = init_celery(flask_app)

__all__ = ["celery", "flask_app"]
