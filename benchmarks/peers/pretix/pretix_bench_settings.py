"""pretix's own settings, with the three changes the benchmark needs (runs inside pretix's virtual environment).

Everything else comes from ``pretix.cfg`` (written by ``run.py``) through pretix's normal settings module:
PostgreSQL, ``debug = false``, Redis as its cache, no Celery broker (so its tasks run eagerly in the
process that calls them, as pretix does without a broker).

- E-mail goes to Django's dummy backend: pretix still renders each mail and records it, but nothing
  leaves the machine (there is no mail server here, and SMTP latency is not what is measured).
- Cache keys get a per-run prefix: every run starts a fresh database whose primary keys start at 1
  again, and a cache shared with an earlier run would otherwise hand back that run's objects.
- Logging to the console is quieted to warnings, and kombu's warning that Celery's eager mode has no
  broker host (it builds a producer only to learn the serializer) is silenced; pretix's log file keeps
  its production level.
"""

import os

from pretix.settings import *  # noqa: F403
from pretix.settings import CACHES, LOGGING

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

for _cache in CACHES.values():
    _cache["KEY_PREFIX"] = os.environ.get("PRETIX_BENCH_CACHE_PREFIX", "pretix-bench")

for _handler in LOGGING.get("handlers", {}).values():
    if _handler.get("class") == "logging.StreamHandler":
        _handler["level"] = "WARNING"

LOGGING.setdefault("loggers", {})["kombu.connection"] = {"level": "ERROR"}
