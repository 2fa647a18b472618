"""``EventHive``: the Flask extension, in the pallets style (``init_app``, state in ``app.extensions``)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypedDict

from flask import Flask
from pydantic import ValidationError

from eventhive_core import Clock, ConfigurationError, Hive, HiveSettings, bootstrap
from eventhive_flask import config as cfg
from eventhive_flask import specs_plugin
from eventhive_flask.client_http import PaymentsElsewhere
from eventhive_flask.errors import register_app_handlers
from eventhive_flask.metrics import install as install_metrics
from eventhive_flask.state import EXTENSION_KEY, EventHiveState, state_of

if TYPE_CHECKING:
    from eventhive_core.ports.auth import PasswordHasher, TokenService
    from eventhive_core.ports.denylist import Denylist
    from eventhive_core.ports.event_bus import EventBus
    from eventhive_core.ports.payments import PaymentGateway
    from eventhive_core.ports.scheduler import ExpiryScheduler
    from eventhive_core.ports.storage import Storage

log = logging.getLogger("eventhive_flask")


class HiveOverrides(TypedDict, total=False):
    """Adapters given in code, passed to :func:`eventhive_core.bootstrap` (they win over the config)."""

    clock: Clock
    storage: Storage
    event_bus: EventBus
    scheduler: ExpiryScheduler
    payment_gateway: PaymentGateway
    password_hasher: PasswordHasher
    token_service: TokenService
    denylist: Denylist


class EventHive:
    """The EventHive Flask extension: the original's JSON API over a Hive built from ``app.config``.

    Use it directly (``EventHive(app)``) or with an app factory (``hive_ext = EventHive()``, then
    ``hive_ext.init_app(app)`` in the factory). Each app gets its own Hive, kept in
    ``app.extensions["eventhive"]``; reach it as ``current_hive`` inside a request or app context.

    Args:
        app: An app to set up now, or None to call :meth:`init_app` later.
        plugins: Extra plugins (modules or objects with ``@hookimpl`` functions) for every app.
        overrides: Adapters given in code (clock, storage, payment gateway...), mostly for tests.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        plugins: Sequence[object] = (),
        overrides: HiveOverrides | None = None,
    ) -> None:
        self.plugins = tuple(plugins)
        self.overrides: HiveOverrides = overrides or {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Set up EventHive on ``app``: config defaults, the Hive, the API blueprint and CLI.

        Raises:
            RuntimeError: EventHive is already set up on this app.
            ConfigurationError: A config key is unknown or invalid (the pages asked for with a role, say),
                or a backend cannot start.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                f"EventHive is already set up on the app {app.name!r}; reuse the existing EventHive "
                "instance instead of calling init_app twice."
            )
        for key, value in cfg.defaults_for(app.config).items():
            app.config.setdefault(key, value)
        settings, flask_settings = _validate(app)
        if settings.role == cfg.CLIENT_ROLE and not flask_settings.api_url:
            raise ConfigurationError(
                "EVENTHIVE_ROLE=client renders the pages by calling the JSON API and keeps no data of its own: "
                "set EVENTHIVE_API_URL to the API's address (the front, e.g. http://127.0.0.1:8080)."
            )
        if settings.role not in (None, cfg.CLIENT_ROLE) and flask_settings.pages:
            # Checked before anything is built: the pages list, sell and buy across every service.
            raise ConfigurationError(
                f"EVENTHIVE_PAGES=true serves the whole platform's web pages, but EVENTHIVE_ROLE={settings.role} "
                "runs one service of a split, which serves its JSON API only: leave EVENTHIVE_PAGES unset (or false) "
                "with a role, or unset EVENTHIVE_ROLE to serve the whole platform."
            )
        overrides: HiveOverrides = {**self.overrides}
        if settings.role == cfg.CLIENT_ROLE:
            # The client renders the payment form and never charges: it needs no provider secret.
            overrides.setdefault("payment_gateway", PaymentsElsewhere(settings.payment_provider))
        hive = bootstrap(settings, plugins=(specs_plugin, *self.plugins), **overrides)
        if flask_settings.pages and settings.payment_provider == "stripe" and not settings.stripe_publishable_key:
            # Checked after the provider itself, so a missing secret key is reported first.
            hive.close()
            raise ConfigurationError(
                "The pages take card payments with Stripe.js, which needs EVENTHIVE_STRIPE_PUBLISHABLE_KEY; "
                "set it (pk_live_… or pk_test_…), or turn the pages off with EVENTHIVE_PAGES=false."
            )
        api_root = f"{flask_settings.url_prefix}/api"
        app.extensions[EXTENSION_KEY] = EventHiveState(
            hive=hive, settings=settings, flask=flask_settings, api_root=api_root
        )
        install_metrics(app, flask_settings.url_prefix, flask_settings.metrics_token)
        _register_http(app, hive, api_root, settings.role)
        from eventhive_flask.request_ids import init_request_ids

        init_request_ids(app)
        if flask_settings.pages:
            from eventhive_flask.views.pages import pages

            app.register_blueprint(pages, url_prefix=flask_settings.url_prefix or None)
        from eventhive_flask.limits import init_limits

        init_limits(app, flask_settings)
        if flask_settings.proxy_hops:
            from werkzeug.middleware.proxy_fix import ProxyFix

            # Believe exactly this many proxies' X-Forwarded-* headers, and no client's.
            hops = flask_settings.proxy_hops
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
        from eventhive_flask.cli import eventhive_group

        app.cli.add_command(eventhive_group)
        if flask_settings.run_background:
            with _exit_signals_deferred():
                hive.start(background=True)
            # Stop the threads cleanly at exit; close() also runs the plugins' shutdown hooks.
            atexit.register(_close_at_exit, hive)
        takes_payments = settings.role in (None, "payments")  # the other services of a split never charge
        if takes_payments and settings.payment_provider == "fake" and not (app.debug or app.testing):
            log.warning("EVENTHIVE_PAYMENT_PROVIDER=fake: payments are simulated and no money moves.")

    @staticmethod
    def hive_for(app: Flask) -> Hive:
        """Return the Hive of ``app``.

        Raises:
            RuntimeError: ``init_app`` was not called for this app.
        """
        return state_of(app).hive


def _validate(app: Flask) -> tuple[HiveSettings, cfg.FlaskSettings]:
    unknown = cfg.unknown_keys(app.config)
    if unknown:
        raise ConfigurationError(
            f"Unknown config key(s) {', '.join(unknown)}; the known keys are listed in docs/flask/configuration.md."
        )
    overrides: dict[str, object] = {}
    if app.config.get("EVENTHIVE_STORAGE") == "sqlalchemy" and not app.config.get("EVENTHIVE_DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        overrides["database_url"] = "sqlite:///" + os.path.join(app.instance_path, "eventhive.sqlite3")
    if app.config.get("EVENTHIVE_JWT_ALGORITHM", "HS256") == "HS256" and not app.config.get("EVENTHIVE_JWT_SECRET"):
        secret = app.config.get("SECRET_KEY")
        if not secret:
            raise ConfigurationError(
                "EventHive signs tokens with EVENTHIVE_JWT_SECRET, or else the app's SECRET_KEY; set one "
                '(at least 32 bytes: python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        overrides["jwt_secret"] = secret.decode() if isinstance(secret, bytes) else str(secret)
    try:
        return cfg.hive_settings(app.config, **overrides), cfg.flask_settings(app.config)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid EventHive configuration: {exc}") from exc


def _register_http(app: Flask, hive: Hive, api_root: str, role: str | None) -> None:
    from eventhive_flask.openapi import openapi_view
    from eventhive_flask.views import api

    # A service of a split gets its own routes only (ApiBlueprint reads the role option).
    app.register_blueprint(api, url_prefix=api_root, role=role)
    app.add_url_rule(f"{api_root}/openapi.json", "eventhive_openapi", openapi_view)
    register_app_handlers(app, api_root)
    hive.plugins.hook.eventhive_flask_register_blueprints(app=app, hive=hive)


__all__ = ["EventHive", "HiveOverrides"]


_EXIT_SIGNALS = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, n)}


@contextlib.contextmanager
def _exit_signals_deferred() -> Iterator[None]:
    """Hold back exit signals while the Hive's threads start, then let them through.

    A Ctrl-C landing inside ``Thread.start()`` (a gunicorn worker still booting) raises
    SystemExit while threading holds an internal lock and kills the worker with a traceback;
    deferred, the same signal stops the worker cleanly a moment later. The new threads inherit
    the mask, which is right too: only the main thread should handle these signals.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _EXIT_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def block_exit_signals() -> None:
    """Hold back further exit signals in this thread (and threads it starts) from now on."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _EXIT_SIGNALS)


def _ignore_exit_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in _EXIT_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    block_exit_signals()


def _close_at_exit(hive: Hive) -> None:
    """Close the Hive at interpreter exit without being cut short by a late exit signal.

    On Ctrl-C every gunicorn worker gets SIGINT and starts exiting, then the arbiter sends
    SIGQUIT too. Blocking the signals in this thread is not enough: a thread started before the
    block (a request thread, a library's timer) can still receive one, and Python then runs the
    handler here all the same; gunicorn's own workers raise SystemExit from it, in the middle of
    closing ("Exception ignored in atexit callback"). So the exit signals are ignored outright
    while the Hive closes: the process is leaving already.
    """
    try:
        _ignore_exit_signals()
    except SystemExit:
        # A signal's handler ran in the instant before they were ignored: we are exiting anyway.
        _ignore_exit_signals()
    hive.close()
