"""``eventhive service ROLE``: one service of the split platform, as the original ran each of its five.

The service (``auth``, ``tickets``, ``orders``, ``payments`` or ``expiration``) serves its own
routes of the JSON API and its health route (:mod:`eventhive_flask.roles`), on a database of its
own, and talks to the others over the NATS bus, running only its own durable consumers. The
``client`` role is the original's sixth process, its web client: it renders the pages by calling
the JSON API at ``EVENTHIVE_API_URL`` (the front) and keeps no data and no bus of its own. It runs
under gunicorn exactly as ``eventhive serve`` does (:func:`~eventhive_flask.serve.run_server`):
the same listening socket, migration, checks, workers and Ctrl-C handling.

Only auth signs tokens, with ``EVENTHIVE_JWT_PRIVATE_KEY`` (EdDSA); the others verify them with
``EVENTHIVE_JWT_PUBLIC_KEY`` and trust a verified token for who the user is. What cannot work in
a split (an in-process bus, a signing key outside auth, a missing key) stops the command at once
with one line.

Importing this module is cheap: Flask, gunicorn and the storage load when the command runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from types import MappingProxyType

import click

from eventhive_flask.config import CLIENT_ROLE
from eventhive_flask.roles import ROLE_ROUTES, served_paths
from eventhive_flask.serve import Ready, default_cookie_security, run_server, shown_url

#: The services of a split with an API and data of their own, in the order they are usually started.
ROLES: tuple[str, ...] = tuple(role for role in ROLE_ROUTES if role != CLIENT_ROLE)

#: The port each service listens on unless ``--port`` says otherwise (one machine, five ports).
DEFAULT_PORTS: Mapping[str, int] = MappingProxyType(
    {"auth": 3001, "tickets": 3002, "orders": 3003, "payments": 3004, "expiration": 3005, "client": 3000}
)

#: Variables that let a process sign tokens: only auth may hold one.
SIGNING_KEYS = ("EVENTHIVE_JWT_PRIVATE_KEY", "EVENTHIVE_JWT_SECRET")


def check_split_environment(environ: Mapping[str, str], role: str, workers: int = 1) -> None:
    """Refuse an environment in which ``role`` cannot work as a service of a split.

    Args:
        environ: The environment the command was started with.
        role: The service to start.
        workers: The worker processes asked for.

    Raises:
        click.ClickException: The bus is in-process, tokens are not EdDSA, a service other than
            auth holds a signing key, auth has no private key, another service no public key, or
            another service's workers would each keep an in-memory denylist.
    """
    refused = f"Cannot start the {role} service"
    if role == CLIENT_ROLE:
        check_client_environment(environ)
        return
    bus = environ.get("EVENTHIVE_EVENT_BUS") or "inprocess"
    if bus == "inprocess":
        raise click.ClickException(
            f"{refused}: a split's services talk over a bus between processes: set EVENTHIVE_EVENT_BUS=nats"
        )
    algorithm = environ.get("EVENTHIVE_JWT_ALGORITHM") or "EdDSA"
    if algorithm != "EdDSA":
        raise click.ClickException(
            f"{refused}: a split signs tokens with EdDSA, so that only auth can sign: "
            f"unset EVENTHIVE_JWT_ALGORITHM={algorithm} (the command sets EdDSA)"
        )
    if role == "auth":
        if not environ.get("EVENTHIVE_JWT_PRIVATE_KEY"):
            raise click.ClickException(
                f"{refused}: it signs the tokens: set EVENTHIVE_JWT_PRIVATE_KEY (an Ed25519 key, PEM) "
                "and give the other services its public key as EVENTHIVE_JWT_PUBLIC_KEY"
            )
        return
    signing = [name for name in SIGNING_KEYS if environ.get(name)]
    if signing:
        raise click.ClickException(
            f"{refused}: only auth signs tokens: unset {' and '.join(signing)}; "
            "the other services verify them with EVENTHIVE_JWT_PUBLIC_KEY (EdDSA)"
        )
    if not environ.get("EVENTHIVE_JWT_PUBLIC_KEY"):
        raise click.ClickException(
            f"{refused}: it verifies the tokens auth signs: set EVENTHIVE_JWT_PUBLIC_KEY "
            "(the auth service's Ed25519 public key, PEM)"
        )
    # The workers share the role's durable consumer, so each sign-out or ban reaches one of them;
    # only auth's own database also remembers them. A list in Redis is the same for every worker.
    if workers > 1 and (environ.get("EVENTHIVE_DENYLIST") or "memory") == "memory":
        raise click.ClickException(
            f"{refused}: with --workers {workers} each worker would keep its own in-memory denylist and miss the "
            "sign-outs and bans another worker received: set EVENTHIVE_DENYLIST=redis (with EVENTHIVE_REDIS_URL), "
            "or use --workers 1"
        )


def check_client_environment(environ: Mapping[str, str]) -> None:
    """Refuse an environment in which the pages' client cannot work.

    Raises:
        click.ClickException: ``EVENTHIVE_API_URL`` is unset, or a signing key is set (only auth signs).
    """
    refused = "Cannot start the client service"
    if not environ.get("EVENTHIVE_API_URL"):
        raise click.ClickException(
            f"{refused}: it renders the pages by calling the JSON API: set EVENTHIVE_API_URL to the front's "
            "address (e.g. http://127.0.0.1:8080)"
        )
    signing = [name for name in SIGNING_KEYS if environ.get(name)]
    if signing:
        raise click.ClickException(
            f"{refused}: only auth signs tokens, and the client asks the API who is signed in: "
            f"unset {' and '.join(signing)}"
        )


def prepare_client_environment(environ: MutableMapping[str, str], data_dir: Path, host: str) -> list[str]:
    """Set what makes this process the pages' client; return notes to print.

    The role, the pages on, and nothing to keep: in-memory storage (nothing is stored in it), an
    in-process bus with no subscribers, no expiry scheduler and no background threads. The data
    folder keeps only the secret of the pages' CSRF cookie.
    """
    environ["EVENTHIVE_ROLE"] = CLIENT_ROLE
    environ["EVENTHIVE_PRODUCER"] = CLIENT_ROLE
    environ["EVENTHIVE_PAGES"] = "true"
    environ["EVENTHIVE_STORAGE"] = "memory"
    environ["EVENTHIVE_EVENT_BUS"] = "inprocess"
    environ["EVENTHIVE_SCHEDULER"] = "none"
    environ["EVENTHIVE_RUN_BACKGROUND"] = "false"
    environ["EVENTHIVE_DATA_DIR"] = str(data_dir)
    # A split's shared environment may carry these; the client uses none, and holds no secret
    # it does not need (the payments service charges: the pages need the publishable key only).
    for name in (
        "EVENTHIVE_DATABASE_URL",
        "EVENTHIVE_JWT_ALGORITHM",
        "EVENTHIVE_JWT_PUBLIC_KEY",
        "EVENTHIVE_STRIPE_SECRET_KEY",
        "EVENTHIVE_STRIPE_WEBHOOK_SECRET",
    ):
        environ.pop(name, None)
    return default_cookie_security(environ, host)


def prepare_service_environment(environ: MutableMapping[str, str], role: str, data_dir: Path, host: str) -> list[str]:
    """Set what makes this process the ``role`` service of a split; return notes to print.

    The role, the producer's name in event envelopes, the denylist feed's and the bus consumers'
    role (so the NATS bus runs this service's durable consumers only), SQL storage on the
    environment's ``EVENTHIVE_DATABASE_URL`` or else ``<data_dir>/<role>.sqlite3``, EdDSA tokens,
    the background threads, and the Secure cookie off on plain-HTTP loopback.
    """
    if role == CLIENT_ROLE:
        return prepare_client_environment(environ, data_dir, host)
    environ["EVENTHIVE_ROLE"] = role
    environ["EVENTHIVE_PRODUCER"] = role
    environ["EVENTHIVE_DENYLIST_ROLE"] = role
    environ["EVENTHIVE_NATS_ROLES"] = role
    environ["EVENTHIVE_STORAGE"] = "sqlalchemy"
    environ["EVENTHIVE_JWT_ALGORITHM"] = "EdDSA"
    environ["EVENTHIVE_DATA_DIR"] = str(data_dir)
    if not environ.get("EVENTHIVE_DATABASE_URL"):
        # A split on one laptop: one SQLite file per service, side by side in the data folder.
        environ["EVENTHIVE_DATABASE_URL"] = f"sqlite:///{data_dir / f'{role}.sqlite3'}"
    environ["EVENTHIVE_RUN_BACKGROUND"] = "true"
    return default_cookie_security(environ, host)


def shown_bus_url(url: str) -> str:
    """Hide the credentials of a NATS URL (a user and password, or a token).

    Examples:
        >>> shown_bus_url("nats://ann:secret@n1:4222,nats://tok@n2:4222")
        'nats://***@n1:4222,nats://***@n2:4222'
    """
    return re.sub(r"//[^/@,]*@", "//***@", url)


def _banner(role: str, ready: Ready) -> None:
    from eventhive_core import __version__
    from eventhive_flask import limits

    if role == CLIENT_ROLE:
        click.echo(f"EventHive {__version__}: the client service on {ready.root}/ ({ready.workers} worker(s))")
        click.echo(f"  pages:     {ready.root}{ready.flask.url_prefix}/, calling the JSON API at {ready.flask.api_url}")
        click.echo(f"  routes:    {ready.flask.url_prefix}/api/health (no API of its own, no data, no bus)")
        for note in ready.notes:
            click.echo(f"  {note}")
        return
    api = f"{ready.flask.url_prefix.rstrip('/')}/api"
    own = [f"{api}{path}*" for path in ROLE_ROUTES[role]]
    shared = [f"{api}{path}" for path in served_paths(role) if path not in ROLE_ROUTES[role]]
    routes = ", ".join([*own, *shared, f"{api}/openapi.json"]) + ("" if own else " (no API of its own)")
    click.echo(f"EventHive {__version__}: the {role} service on {ready.root}/ ({ready.workers} worker(s))")
    click.echo(f"  routes:    {routes}")
    click.echo(f"  data:      {ready.folder}")
    click.echo(f"  storage:   {ready.storage}" + (f" ({shown_url(ready.database_url)})" if ready.database_url else ""))
    if ready.event_bus == "nats":
        url = os.environ.get("EVENTHIVE_NATS_URL") or "nats://127.0.0.1:4222"
        prefix = os.environ.get("EVENTHIVE_NATS_PREFIX") or "eventhive"
        click.echo(f"  events:    nats bus at {shown_bus_url(url)} (subjects {prefix}.*), the {role} role's consumers")
    else:
        click.echo(f"  events:    {ready.event_bus} bus, the {role} role's subscribers")
    if role == "payments":
        simulated = " (simulated: tok_visa pays, no money moves)" if ready.payments == "fake" else ""
        click.echo(f"  payments:  {ready.payments}{simulated}")
    for note in ready.notes:
        click.echo(f"  {note}")
    if role in {"auth", "orders"}:  # the services with limited routes: sign-in and sign-up, placing orders
        click.echo(f"  {limits.describe(ready.flask)}")


@click.command("service")
@click.argument("role", type=click.Choice([*ROLES, CLIENT_ROLE]))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port to listen on.  [default: client 3000, auth 3001, tickets 3002, orders 3003, payments 3004, "
    "expiration 3005]",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option(
    "--data-dir",
    envvar="EVENTHIVE_DATA_DIR",
    default="./eventhive-data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the service's SQLite database when EVENTHIVE_DATABASE_URL is unset (EVENTHIVE_DATA_DIR).",
)
def service(role: str, host: str, port: int | None, workers: int, threads: int, data_dir: str) -> None:
    """Run one service of the split platform.

    ROLE is auth, tickets, orders, payments or expiration: its routes of the JSON API and
    health, on its own database, joined to the others by the NATS bus (EVENTHIVE_EVENT_BUS=nats).
    Only auth signs tokens (EVENTHIVE_JWT_PRIVATE_KEY); the others verify them
    (EVENTHIVE_JWT_PUBLIC_KEY). ROLE client serves the web pages, calling the JSON API at
    EVENTHIVE_API_URL (the front), with no data of its own.
    """
    check_split_environment(os.environ, role, workers)
    run_server(
        "service",
        host,
        DEFAULT_PORTS[role] if port is None else port,
        workers,
        threads,
        data_dir,
        environment=lambda folder: prepare_service_environment(os.environ, role, folder, host),
        banner=lambda ready: _banner(role, ready),
        proc_name=f"eventhive-{role}",
    )


__all__ = [
    "DEFAULT_PORTS",
    "ROLES",
    "SIGNING_KEYS",
    "check_client_environment",
    "check_split_environment",
    "prepare_client_environment",
    "prepare_service_environment",
    "service",
    "shown_bus_url",
]
