"""The per-app state kept in ``app.extensions["eventhive"]``, and ``current_hive``.

Nothing is kept on the extension object or in module globals, so two apps in one process keep
two Hives, and one ``EventHive`` object can serve several apps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app
from werkzeug.local import LocalProxy

from eventhive_core import Hive, HiveSettings
from eventhive_flask.config import FlaskSettings

#: The key of our state in ``app.extensions``.
EXTENSION_KEY = "eventhive"


@dataclass(frozen=True, slots=True)
class EventHiveState:
    """What ``init_app`` built for one app.

    Attributes:
        hive: The app's Hive.
        settings: The core settings it was built with.
        flask: The Flask-only settings.
        api_root: The path of the API root (``<EVENTHIVE_URL_PREFIX>/api``).
    """

    hive: Hive
    settings: HiveSettings
    flask: FlaskSettings
    api_root: str


def state_of(app: Flask) -> EventHiveState:
    """Return an app's EventHive state.

    Raises:
        RuntimeError: ``init_app`` was not called for this app.
    """
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, EventHiveState):
        raise RuntimeError(f"EventHive is not set up on the app {app.name!r}: call EventHive.init_app(app) first.")
    return state


def current_state() -> EventHiveState:
    """Return the current app's EventHive state (needs an app context)."""
    return state_of(cast(Flask, current_app._get_current_object()))  # type: ignore[attr-defined]


def _current_hive() -> Hive:
    return current_state().hive


#: The current app's Hive (needs an app context), like ``flask.current_app``.
current_hive: Hive = cast(Hive, LocalProxy(_current_hive))

__all__ = ["EXTENSION_KEY", "EventHiveState", "current_hive", "current_state", "state_of"]
