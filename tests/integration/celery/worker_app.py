"""The Celery app the integration tests start with ``celery -A worker_app worker|beat``.

It is what an operator without Flask writes: a Hive from the ``EVENTHIVE_*`` environment (plus
the tests' audit subscribers) and a Celery app bound to it by ``make_celery``.
"""

from __future__ import annotations

from audit_subscribers import AuditSubscribers

from eventhive_core import HiveSettings, bootstrap
from eventhive_core.adapters.celery import make_celery

hive = bootstrap(HiveSettings.from_env(), plugins=[AuditSubscribers()])
app = make_celery(hive)
