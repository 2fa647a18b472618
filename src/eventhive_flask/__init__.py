"""The EventHive Flask extension: the original's JSON API over a Hive, and ``eventhive serve``.

Importing the package is cheap (it is also the ``flask`` plugin of the ``eventhive`` CLI); Flask
is imported when one of the names below is first used::

    from flask import Flask
    from eventhive_flask import EventHive

    app = Flask(__name__)
    app.config["EVENTHIVE_JWT_SECRET"] = "..."
    EventHive(app)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventhive_flask.app import create_app
    from eventhive_flask.auth import current_identity
    from eventhive_flask.celery_glue import init_celery
    from eventhive_flask.extension import EventHive, HiveOverrides
    from eventhive_flask.state import current_hive

_LAZY = {
    "EventHive": "eventhive_flask.extension",
    "HiveOverrides": "eventhive_flask.extension",
    "create_app": "eventhive_flask.app",
    "current_hive": "eventhive_flask.state",
    "current_identity": "eventhive_flask.auth",
    "init_celery": "eventhive_flask.celery_glue",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eventhive_flask' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["EventHive", "HiveOverrides", "create_app", "current_hive", "current_identity", "init_celery"]
