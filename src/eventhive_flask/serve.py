"""``eventhive serve``: the whole platform in one command, on the embedded defaults.

A SQLite file in the data folder (migrated before the workers start), the in-process event bus,
outbox relay, expiry scheduler and sweeper running in every worker, fake payments, and a signing
secret generated once and kept in the data folder. gunicorn serves
:func:`~eventhive_flask.app.create_app` with threaded workers
(:class:`~eventhive_flask.serve_worker.ServeWorker`). Any ``EVENTHIVE_*`` environment variable swaps a part,
for instance ``EVENTHIVE_DATABASE_URL=postgresql+psycopg://...``. ``eventhive service ROLE``
(:mod:`eventhive_flask.service`) runs one service of the split with the same machinery
(:func:`run_server`).

Importing this module is cheap: Flask, gunicorn and the storage load when the command runs.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from eventhive_flask.config import FlaskSettings

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
BACKLOG = 2048
"""Connections the listening socket queues (gunicorn's default), set by ``listen`` and given to gunicorn alike."""


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` is a loopback address or name.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """Hide the password of a database URL.

    Examples:
        >>> shown_url("postgresql+psycopg://ann:secret@db:5432/x")
        'postgresql+psycopg://ann:***@db:5432/x'
    """
    from eventhive_core.cli.environment import hide_url_password

    return hide_url_password(url)


def prepare_environment(environ: MutableMapping[str, str], data_dir: Path, host: str) -> list[str]:
    """Fill in the embedded defaults the environment does not set; return notes to print.

    Sets storage, database URL, signing secret, the data folder, background threads, and turns
    the Secure cookie off on plain-HTTP loopback (browsers drop Secure cookies over plain HTTP).
    """
    from eventhive_flask import datadir

    notes: list[str] = []
    environ["EVENTHIVE_DATA_DIR"] = str(data_dir)
    environ.setdefault("EVENTHIVE_STORAGE", "sqlalchemy")
    if environ["EVENTHIVE_STORAGE"] == "sqlalchemy":
        environ.setdefault("EVENTHIVE_DATABASE_URL", datadir.database_url(data_dir))
    if environ.get("EVENTHIVE_JWT_ALGORITHM", "HS256") == "HS256" and not environ.get("EVENTHIVE_JWT_SECRET"):
        environ["EVENTHIVE_JWT_SECRET"] = datadir.signing_secret(data_dir)
    # On unless told: a web tier whose expiries, relay and sweeps run in Celery (Kubernetes, the
    # reference deployment) sets it to false, so its replicas hold no timers of their own.
    environ.setdefault("EVENTHIVE_RUN_BACKGROUND", "true")
    notes.extend(default_cookie_security(environ, host))
    return notes


def default_cookie_security(environ: MutableMapping[str, str], host: str) -> list[str]:
    """Turn the Secure cookie off on plain-HTTP loopback, unless the environment says; return notes to print.

    Browsers drop a Secure cookie that arrives over plain HTTP, so on loopback (where nobody else
    listens) a server without TLS in front would sign nobody in.
    """
    if "EVENTHIVE_COOKIE_SECURE" in environ:
        return []
    if is_loopback(host):
        environ["EVENTHIVE_COOKIE_SECURE"] = "false"
        return [
            "cookies:   Secure only over HTTPS (plain HTTP on loopback; a trusted proxy may report HTTPS: "
            "EVENTHIVE_PROXY_HOPS)"
        ]
    return ["cookies:   marked Secure: browsers send them over HTTPS only (put TLS in front)"]


def migrate(environ: Mapping[str, str]) -> tuple[str, str, str, str, str]:
    """Build a Hive once in this process to validate the settings and migrate the database.

    The database is upgraded to the newest schema unless ``EVENTHIVE_STORAGE_OPTIONS`` names its
    own ``migrate`` mode (``check`` where a Job runs ``eventhive db upgrade`` before the rollout).

    Returns:
        The storage, database URL, event bus, scheduler and payment provider in use.

    Raises:
        click.ClickException: A setting is invalid or a backend cannot start.
    """
    from pydantic import ValidationError

    from eventhive_core import EventHiveError, HiveSettings, bootstrap
    from eventhive_flask.app import config_from_env

    try:
        settings = HiveSettings.from_mapping(config_from_env(environ), ignore_unknown=True)
        if settings.storage == "sqlalchemy":
            # Upgrade, unless EVENTHIVE_STORAGE_OPTIONS names a mode: a cluster that migrates in a
            # Job of its own says "check", so a web replica never changes the schema under the others.
            options = {"migrate": "upgrade", **settings.storage_options}
            bootstrap(settings.model_copy(update={"storage_options": options, "scheduler": "none"})).close()
    except (EventHiveError, ValidationError) as exc:
        message = exc.message if isinstance(exc, EventHiveError) else str(exc)
        raise click.ClickException(f"Cannot start: {message}") from exc
    return (
        settings.storage,
        settings.database_url or "",
        settings.event_bus,
        settings.scheduler,
        settings.payment_provider,
    )


class ListenError(click.ClickException):
    """The address cannot be listened on: one line, exit status 2 like a usage error (the options are at fault)."""

    exit_code = 2


def listen(host: str, port: int) -> socket.socket:
    """Listen on ``host``:``port`` as gunicorn would, so gunicorn can take the socket over.

    Binding here, before anything is printed, turns a taken port into one clear line instead of
    gunicorn's five retries; and since the socket stays open until gunicorn serves on it, nothing
    can take the port in between. Port 0 picks a free port: read it from ``getsockname()``.

    Args:
        host: An address or a name (``::1`` and ``[::1]`` alike); names resolve to IPv4, as in gunicorn.
        port: The port, or 0 for any free one.

    Returns:
        A bound, listening TCP socket.

    Raises:
        ListenError: The port is in use, or the address cannot be listened on.
    """
    address = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As gunicorn does: a port the last run left in TIME_WAIT is free again, one that another
        # program listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        # Listening at once also keeps a second server from binding the same port meanwhile
        # (SO_REUSEADDR lets two sockets bind it as long as neither listens).
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} is in use; choose another with --port") from exc
        shown = f"[{address}]" if ":" in address else address
        raise ListenError(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from exc
    return sock


def gunicorn_options(
    host: str,
    port: int,
    workers: int,
    threads: int,
    listener_fd: int | None = None,
    proc_name: str = "eventhive",
) -> dict[str, Any]:
    """Return the gunicorn settings ``serve`` (and ``service``) run with.

    Args:
        host: The address to listen on.
        port: The port to listen on.
        workers: Worker processes.
        threads: Threads per worker.
        listener_fd: A socket already listening (see :func:`listen`): gunicorn serves on it
            instead of binding ``host``:``port`` itself.
        proc_name: The processes' name in ``ps`` (where ``setproctitle`` is installed).
    """
    if listener_fd is not None:
        bind = f"fd://{listener_fd}"
    else:
        bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    return {
        "bind": bind,
        "backlog": BACKLOG,
        "workers": workers,
        # gunicorn's gthread worker, made safe to Ctrl-C at any instant, even while it boots.
        "worker_class": "eventhive_flask.serve_worker.ServeWorker",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 5,
        "keepalive": 5,
        "accesslog": os.environ.get("EVENTHIVE_ACCESS_LOG") or None,
        "errorlog": "-",
        "loglevel": "warning",
        # gunicorn's own lines in the format the eventhive command configured (JSON off a terminal).
        "logger_class": "eventhive_flask.serve_logging.StructuredGunicornLogger",
        "proc_name": proc_name,
        "worker_int": _worker_quitting,
        # gunicorn would believe X-Forwarded-Proto from 127.0.0.1 by default; trust no one here,
        # so EVENTHIVE_PROXY_HOPS (Werkzeug's ProxyFix in the app) alone decides what to believe.
        "forwarded_allow_ips": "",
    }


def _worker_quitting(worker: Any) -> None:
    # gunicorn calls this in a worker's SIGINT/SIGQUIT handler just before it exits; from here on
    # a second signal (Ctrl-C reaches the worker and the arbiter relays another) must not cut
    # short the Hive's clean close at exit.
    from eventhive_flask.extension import block_exit_signals

    block_exit_signals()


def run_gunicorn(options: Mapping[str, Any], load: Callable[[], Any]) -> None:
    """Serve ``load()``'s WSGI app with gunicorn's ``BaseApplication`` until interrupted."""
    from gunicorn.app.base import BaseApplication

    class EventHiveServer(BaseApplication):  # type: ignore[misc]
        """gunicorn serving the EventHive app; each worker builds its own app after the fork."""

        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    EventHiveServer().run()


def check_app() -> FlaskSettings:
    """Build the app once here, without its background threads, so a worker can never fail to boot.

    Whatever would stop a worker (a missing secret for the pages, an invalid Flask setting) is
    reported here, before anything says the platform is serving.

    Returns:
        The Flask-only settings the workers will run with.

    Raises:
        click.ClickException: The app cannot be built.
    """
    from eventhive_core import EventHiveError
    from eventhive_flask.app import create_app
    from eventhive_flask.state import state_of

    try:
        app = create_app({"EVENTHIVE_RUN_BACKGROUND": False})
    except EventHiveError as exc:
        raise click.ClickException(f"Cannot start: {exc.message}") from exc
    state = state_of(app)
    state.hive.close()
    return state.flask


class _EarlyCtrlC:
    """Ctrl-C before gunicorn handles it: remembered, then acted on where stopping is clean.

    Python's own handler raises ``KeyboardInterrupt`` wherever the process happens to be: in the
    middle of the migration, or in a garbage-collection callback, which swallows it ("Exception
    ignored in ...") and leaves the server running for good. So the first Ctrl-C only asks to
    stop: ``serve`` checks between its steps (:meth:`stop_if_pressed`) and, once gunicorn's own
    handlers are in place, passes a late one on to gunicorn (:meth:`when_ready`). A second Ctrl-C
    stops at once, the usual way, for a step that hangs (a database that does not answer).
    """

    def __init__(self) -> None:
        self.pressed = False

    def __call__(self, sig: int, frame: FrameType | None) -> None:
        """The SIGINT handler.

        Args:
            sig: The signal number.
            frame: The interrupted frame (unused).

        Raises:
            KeyboardInterrupt: Ctrl-C was pressed before, and again now.
        """
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def stop_if_pressed(self) -> None:
        """Exit with status 0, quietly, if Ctrl-C was pressed: the user stopped the server.

        Raises:
            SystemExit: Ctrl-C was pressed.
        """
        if self.pressed:
            raise SystemExit(0)

    def when_ready(self, arbiter: Any) -> None:
        """Hand gunicorn a Ctrl-C it missed (its ``when_ready`` hook, called once its handlers are set).

        Args:
            arbiter: gunicorn's arbiter (unused).
        """
        if self.pressed:
            # Arrived after the last check but before gunicorn replaced the handler: send it
            # again, so gunicorn stops the way it stops on any Ctrl-C.
            os.kill(os.getpid(), signal.SIGINT)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[_EarlyCtrlC]:
    ctrl_c = _EarlyCtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c  # only the main thread may set signal handlers (serve called from a thread, in a test say)
        return
    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield ctrl_c
    finally:
        # Put the previous handler back only if gunicorn did not take over: restoring Python's
        # default as gunicorn exits would turn a late Ctrl-C into a KeyboardInterrupt traceback.
        if signal.getsignal(signal.SIGINT) is ctrl_c and previous is not None:
            signal.signal(signal.SIGINT, previous)


def _load_app() -> Any:
    # Runs in each worker after the fork, so its Hive (connections, relay, scheduler and sweeper
    # threads, started because EVENTHIVE_RUN_BACKGROUND is set) belongs to that worker alone.
    from eventhive_flask.app import create_app

    return create_app()


@dataclass(frozen=True)
class Ready:
    """What a server command found while getting ready, for its banner.

    Attributes:
        listener: The socket it listens on, handed to gunicorn after the banner.
        host: The address it listens on.
        port: The port it listens on (the real one when ``--port 0`` asked for any free port).
        workers: Worker processes.
        folder: The data folder, created.
        notes: Lines the environment's preparation asked to print.
        storage: The storage in use.
        database_url: Its database URL, password included (show it with :func:`shown_url`), or "".
        event_bus: The event bus in use.
        scheduler: The expiry scheduler in use.
        payments: The payment provider in use.
        flask: The Flask-only settings the workers run with.
    """

    listener: socket.socket
    host: str
    port: int
    workers: int
    folder: Path
    notes: list[str]
    storage: str
    database_url: str
    event_bus: str
    scheduler: str
    payments: str
    flask: FlaskSettings

    @property
    def root(self) -> str:
        """The server's address with the URL prefix, without a closing slash (``http://127.0.0.1:8000``)."""
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown_host}:{self.port}{self.flask.url_prefix.rstrip('/')}"


def run_server(
    command: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    data_dir: str,
    *,
    environment: Callable[[Path], list[str]],
    banner: Callable[[Ready], None],
    proc_name: str = "eventhive",
) -> None:
    """Get ready, print the banner, and serve the app under gunicorn until stopped: ``serve`` and ``service`` alike.

    In order: listen on the port (a taken port is then the only line printed), create the data
    folder, let ``environment`` fill in ``os.environ`` for the workers, migrate and check the
    settings (:func:`migrate`), build the app once (:func:`check_app`), print the banner, and hand
    the socket to gunicorn. Ctrl-C at any moment stops cleanly with exit status 0.

    Args:
        command: The command's name, for messages (``serve``).
        host: The address to listen on.
        port: The port, or 0 for any free one.
        workers: Worker processes.
        threads: Threads per worker.
        data_dir: The data folder (created if missing).
        environment: Called with the data folder; sets the command's ``EVENTHIVE_*`` variables in
            ``os.environ`` (the workers read them) and returns notes to print.
        banner: Prints what is starting.
        proc_name: The processes' name in ``ps``.

    Raises:
        click.ClickException: gunicorn is not installed, the port cannot be listened on, or a
            setting or backend keeps the app from starting; one line each.
    """
    with _ctrl_c_deferred() as ctrl_c:
        ready = _get_ready(ctrl_c, command, host, port, workers, data_dir, environment)
        banner(ready)
        click.echo("Press Ctrl-C to stop.", nl=True)
        ctrl_c.stop_if_pressed()
        # gunicorn owns the socket from here (it closes this descriptor once it has its own copy).
        fd = ready.listener.detach()
        options = gunicorn_options(host, ready.port, workers, threads, listener_fd=fd, proc_name=proc_name)
        from eventhive_flask.metrics import multiprocess_for_workers, worker_exited

        multiprocess_for_workers(ready.folder, ready.port)  # before the fork: the workers add up
        run_gunicorn({**options, "when_ready": ctrl_c.when_ready, "child_exit": worker_exited}, _load_app)


def _get_ready(
    ctrl_c: _EarlyCtrlC,
    command: str,
    host: str,
    port: int,
    workers: int,
    data_dir: str,
    environment: Callable[[Path], list[str]],
) -> Ready:
    try:
        import gunicorn  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f'eventhive {command} needs the server extra: pip install "eventhive-tickets[server]"'
        ) from exc
    from eventhive_flask import datadir

    # First, so a taken port is the only line printed (building the app logs a warning or two),
    # and nothing is migrated for a server that cannot start.
    listener = listen(host, port)
    # Closed when the command ends early; once gunicorn has it, detached and so left open.
    click.get_current_context().call_on_close(listener.close)
    port = listener.getsockname()[1]  # the real one when --port 0 asked for any free port
    ctrl_c.stop_if_pressed()
    folder = datadir.prepare(data_dir)
    notes = environment(folder)
    storage, url, bus, scheduler, payments = migrate(os.environ)
    ctrl_c.stop_if_pressed()
    flask_settings = check_app()
    ctrl_c.stop_if_pressed()
    # The pages' client keeps nothing in its memory storage, so its workers have nothing to disagree on.
    if storage == "memory" and workers > 1 and os.environ.get("EVENTHIVE_ROLE") != "client":
        raise click.ClickException(
            "EVENTHIVE_STORAGE=memory keeps data inside one process, so each worker would have its own: "
            "use --workers 1, or SQL storage."
        )
    # Import the app's modules once here, so forked workers start without importing them again.
    import eventhive_flask.app
    import eventhive_flask.views  # noqa: F401

    return Ready(listener, host, port, workers, folder, notes, storage, url, bus, scheduler, payments, flask_settings)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option(
    "--data-dir",
    envvar="EVENTHIVE_DATA_DIR",
    default="./eventhive-data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the SQLite database and the signing secret (EVENTHIVE_DATA_DIR).",
)
def serve(host: str, port: int, workers: int, threads: int, data_dir: str) -> None:
    """Run the whole ticket platform on one machine.

    The JSON API and pages, with their database, timers and fake payments.
    """
    run_server(
        "serve",
        host,
        port,
        workers,
        threads,
        data_dir,
        environment=lambda folder: prepare_environment(os.environ, folder, host),
        banner=_serve_banner,
    )


def _serve_banner(ready: Ready) -> None:
    from eventhive_core import __version__
    from eventhive_flask import limits

    root, workers, flask_settings = ready.root, ready.workers, ready.flask
    click.echo(f"EventHive {__version__} serving on {root}/ ({workers} worker(s)); the JSON API is at {root}/api")
    click.echo(f"  data:      {ready.folder}")
    click.echo(f"  storage:   {ready.storage}" + (f" ({shown_url(ready.database_url)})" if ready.database_url else ""))
    click.echo(
        f"  events:    {ready.event_bus} bus, {ready.scheduler} expiry scheduler, relay and sweeper in each worker"
    )
    click.echo(
        f"  payments:  {ready.payments}"
        + (" (simulated: tok_visa pays, no money moves)" if ready.payments == "fake" else "")
    )
    for note in ready.notes:
        click.echo(f"  {note}")
    click.echo(f"  {limits.describe(flask_settings)}")
    if flask_settings.rate_limits and not flask_settings.redis_url and workers > 1:
        click.echo(
            f"  note:      each of the {workers} workers counts on its own, so a client may get up to {workers} times "
            "each limit; set EVENTHIVE_REDIS_URL to share the counters"
        )
    if flask_settings.metrics_token is not None:
        click.echo(f"  metrics:   {root}/metrics (Authorization: Bearer EVENTHIVE_METRICS_TOKEN)")
    if flask_settings.proxy_hops:
        click.echo(f"  proxies:   trusting X-Forwarded-* from {flask_settings.proxy_hops} proxy hop(s)")


__all__ = [
    "BACKLOG",
    "ListenError",
    "Ready",
    "check_app",
    "default_cookie_security",
    "gunicorn_options",
    "is_loopback",
    "listen",
    "migrate",
    "prepare_environment",
    "run_gunicorn",
    "run_server",
    "serve",
    "shown_url",
]
