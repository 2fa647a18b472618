"""Find the Hive that serves a Celery app, without a module-level Hive.

:func:`bind_hive` is called once per process by whoever builds both (``init_celery(app)`` in
Flask, ``eventhive worker``, or your own worker module); tasks then call
:func:`hive_for` with their own ``self.app``. The mapping is keyed weakly by the Celery app, so
two apps in one process (two Flask apps, tests) keep two Hives, and a dropped app frees its entry.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Protocol

from eventhive_core.domain.errors import ConfigurationError

# Moved to the core with the catch-up sweep; still importable from here for one release.
from eventhive_core.service_layer.expiry import CatchUp

if TYPE_CHECKING:
    from celery import Celery

    # For annotations only: the Hive is built above the adapters and handed down at run time.
    from eventhive_core.hive import Hive


class CeleryAttachable(Protocol):
    """An adapter that sends tasks through the Celery app its Hive is bound to."""

    def attach(self, celery_app: Celery) -> None:
        """Send through ``celery_app`` from now on."""
        ...


_hives: weakref.WeakKeyDictionary[Celery, Hive] = weakref.WeakKeyDictionary()
_catch_ups: weakref.WeakKeyDictionary[Celery, CatchUp] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def bind_hive(celery_app: Celery, hive: Hive) -> None:
    """Make ``hive`` the one that ``celery_app``'s tasks use, and send its tasks through that app.

    The Hive's Celery scheduler and event bus (when those are the chosen adapters) switch from
    their own fallback connection to ``celery_app``'s broker and settings.

    Raises:
        ConfigurationError: ``celery_app`` is already bound to another Hive.
    """
    with _lock:
        bound = _hives.get(celery_app)
        if bound is not None and bound is not hive:
            raise ConfigurationError(
                f"Celery app {celery_app.main!r} already serves another Hive; build one Celery app per Hive "
                "(call unbind_hive first to replace it)."
            )
        _hives[celery_app] = hive
    for adapter in (hive.scheduler, hive.bus):
        attach = getattr(adapter, "attach", None)
        if callable(attach):
            attach(celery_app)


def unbind_hive(celery_app: Celery) -> None:
    """Forget the Hive bound to ``celery_app`` (no error when there is none)."""
    with _lock:
        _hives.pop(celery_app, None)


def hive_for(celery_app: Celery) -> Hive:
    """Return the Hive bound to ``celery_app``.

    Raises:
        ConfigurationError: Nothing was bound: the worker was started on an app that
            ``init_celery``, ``eventhive worker`` or ``make_celery`` did not build.
    """
    with _lock:
        hive = _hives.get(celery_app)
    if hive is None:
        raise ConfigurationError(
            f"No Hive is bound to Celery app {celery_app.main!r}. Start workers with `eventhive worker`, "
            "`celery -A eventhive_flask.celery_app worker`, or an app built by make_celery(hive) / init_celery(app)."
        )
    return hive


def catch_up_for(celery_app: Celery) -> CatchUp:
    """Return the catch-up state of the Hive bound to ``celery_app``.

    Deprecated: the catch-up sweep moved into the core (``hive.expire(order_id, fire_at=...)``)
    and its state belongs to the Hive; this function goes in the next release.
    """
    warnings.warn(
        "catch_up_for() is deprecated and will be removed in the next release: the catch-up sweep lives in "
        "the Hive now (hive.expire(order_id, fire_at=...)).",
        DeprecationWarning,
        stacklevel=2,
    )
    with _lock:
        hive = _hives.get(celery_app)
        if hive is not None:
            # The Hive's own state, so old callers still see (and share) the sweep it runs.
            return hive._expiries.catch_up
        state = _catch_ups.get(celery_app)
        if state is None:
            state = _catch_ups[celery_app] = CatchUp()
        return state


__all__ = ["CatchUp", "CeleryAttachable", "bind_hive", "catch_up_for", "hive_for", "unbind_hive"]
