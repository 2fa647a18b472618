"""``create_app()``: the reference app factory, configured from ``EVENTHIVE_*`` environment variables.

``flask --app eventhive_flask:create_app run`` and ``eventhive serve`` both use it. Its data
folder (the app's instance folder) is ``EVENTHIVE_DATA_DIR`` (default ``./eventhive-data``): the
SQLite database lives there, and so do the secrets generated on first start: a token-signing
secret when neither ``EVENTHIVE_JWT_SECRET`` nor ``SECRET_KEY`` is given, and, when tokens are
signed with an EdDSA key pair and neither ``SECRET_KEY`` nor ``EVENTHIVE_PAGES_SECRET`` is given, the
secret of the pages' CSRF cookie.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from eventhive_flask import datadir
from eventhive_flask.config import DEFAULTS
from eventhive_flask.extension import EventHive, HiveOverrides
from eventhive_flask.state import state_of


def config_from_env(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Return the known ``EVENTHIVE_*`` keys found in the environment (others, like test settings, are skipped)."""
    source = os.environ if environ is None else environ
    return {key: value for key, value in source.items() if key in DEFAULTS}


def create_app(
    config: Mapping[str, object] | None = None,
    *,
    plugins: tuple[object, ...] = (),
    overrides: HiveOverrides | None = None,
) -> Flask:
    """Build a Flask app serving the EventHive API.

    Configuration, later sources winning: the defaults, ``EVENTHIVE_*`` environment variables,
    then ``config``.

    Args:
        config: Extra config keys (``EVENTHIVE_*``, ``SECRET_KEY``, ``TESTING``...).
        plugins: Extra EventHive plugins.
        overrides: Adapters given in code (see :class:`~eventhive_flask.extension.HiveOverrides`).
    """
    settings: dict[str, object] = {**config_from_env(), **(config or {})}
    data_dir = datadir.prepare(str(settings.get("EVENTHIVE_DATA_DIR") or DEFAULTS["EVENTHIVE_DATA_DIR"]))
    app = Flask("eventhive_flask", instance_path=str(data_dir))
    app.config.update(settings)
    hs256 = str(app.config.get("EVENTHIVE_JWT_ALGORITHM") or "HS256") == "HS256"
    if hs256 and not app.config.get("EVENTHIVE_JWT_SECRET") and not app.config.get("SECRET_KEY"):
        app.config["EVENTHIVE_JWT_SECRET"] = datadir.signing_secret(data_dir)
    if not hs256 and not app.config.get("SECRET_KEY") and not app.config.get("EVENTHIVE_PAGES_SECRET"):
        # The pages sign their CSRF cookie with SECRET_KEY; an EdDSA key pair offers no shared
        # secret to fall back on, so the data folder keeps one for them.
        app.config["SECRET_KEY"] = datadir.signing_secret(data_dir, datadir.PAGES_SECRET_FILE)
    EventHive(app, plugins=plugins, overrides=overrides)
    hive_settings = state_of(app).settings
    if "celery" in (hive_settings.scheduler, hive_settings.event_bus):
        # Celery carries the expiries or the events: give the app its Celery app now, so the
        # broker from CELERY_BROKER_URL lands in app.config["CELERY"] and tasks run in app context.
        from eventhive_flask.celery_glue import init_celery

        init_celery(app)
    return app


__all__ = ["config_from_env", "create_app"]
