"""Write the nginx configuration of the split's front: one address that routes by path, as the original's ingress.

``/api/users`` goes to auth, ``/api/tickets`` to tickets, ``/api/orders`` to orders,
``/api/payments`` (its provider webhooks included) to payments, and everything else to the web
client on ``EVENTHIVE_CLIENT_PORT``. The services run with ``EVENTHIVE_PROXY_HOPS=1``, so they
believe the ``X-Forwarded-*`` headers this one proxy sets, and only those.

A second listener, ``FRONT_INTERNAL_PORT``, routes the same API paths for the web client alone
(it listens on the loopback, which only the example's own processes reach). The client calls
the API there on behalf of a browser and says whose request it is in ``X-Forwarded-For``,
``-Proto`` and ``-Host``; this listener passes those on as they came, so the services count
the browser's address in their rate limits, not the client's one address.

Usage: ``python front.py`` prints the configuration for the ports in the environment (the
defaults below); ``run.py`` calls :func:`render` and writes it into the data folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

#: The port each service listens on unless ``PORT_<ROLE>`` says otherwise (``eventhive service``'s defaults).
DEFAULT_PORTS = {"auth": 3001, "tickets": 3002, "orders": 3003, "payments": 3004, "expiration": 3005}
DEFAULT_FRONT_PORT = 8080
DEFAULT_INTERNAL_PORT = 8081
DEFAULT_CLIENT_PORT = 3000

#: The path each service answers under; the expiration service has no routes, so the front skips it.
ROUTED = {"auth": "/api/users", "tickets": "/api/tickets", "orders": "/api/orders", "payments": "/api/payments"}

TEMPLATE = """\
# Written by front.py; run.py writes it again at every start, so edit front.py instead.
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    # What a service with EVENTHIVE_PROXY_HOPS=1 reads: the browser's own address (Host and
    # X-Forwarded-Host keep the port it typed), its IP for the rate limits, and its scheme for
    # the cookie's Secure flag and the same-origin check.
    proxy_http_version 1.1;
    # Keep connections to the services open between requests (see the upstreams below): a new
    # connection per request costs each service an accept and the front a connect.
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;

{upstreams}
    server {{
        listen 127.0.0.1:{front_port};
{locations}
        # The web client; until one listens on this port the front answers 502 here.
        location / {{
            proxy_pass http://127.0.0.1:{client_port};
        }}
    }}

    # The web client's way in: the API only, and the browser's X-Forwarded-* as the client sent
    # them (the client is the one proxy the services hear of). Never expose this listener.
    server {{
        listen 127.0.0.1:{internal_port};
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $http_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;
        proxy_set_header X-Forwarded-Host $http_x_forwarded_host;
{locations}
        location / {{
            return 404;
        }}
    }}
}}
"""

UPSTREAM = """\
    upstream {role} {{
        server 127.0.0.1:{port};
        keepalive 16;
    }}
"""

LOCATION = """\
        location ~ ^{path}(/|$) {{
            proxy_pass http://{role};
        }}
"""


def ports_from(env: Mapping[str, str]) -> dict[str, int]:
    """Return each service's port: ``PORT_<ROLE>`` (``PORT_AUTH``...), else its default."""
    return {role: int(env.get(f"PORT_{role.upper()}", default)) for role, default in DEFAULT_PORTS.items()}


def render(folder: Path, ports: Mapping[str, int], front_port: int, client_port: int, internal_port: int) -> str:
    """Return the nginx configuration.

    Args:
        folder: Where nginx keeps its pid file, temporary files and logs.
        ports: The port of each service (auth, tickets, orders, payments; others are ignored).
        front_port: The port the front listens on (the address to open).
        client_port: The web client's port, for every path the services do not own.
        internal_port: The port the web client calls the API on.
    """
    # A regular expression, not a prefix: /api/tickets and /api/tickets/1 go to tickets, /api/ticketsX does not.
    upstreams = "".join(UPSTREAM.format(role=role, port=ports[role]) for role in ROUTED)
    locations = "".join(LOCATION.format(path=path, role=role) for role, path in ROUTED.items())
    return TEMPLATE.format(
        folder=folder,
        front_port=front_port,
        client_port=client_port,
        internal_port=internal_port,
        upstreams=upstreams,
        locations=locations,
    )


def main() -> None:
    """Print the configuration for the environment's ports, with the data folder of ``DATA_DIR``."""
    folder = Path(os.environ.get("DATA_DIR", Path(__file__).parent / "data")).resolve() / "front"
    front_port = int(os.environ.get("FRONT_PORT", DEFAULT_FRONT_PORT))
    client_port = int(os.environ.get("EVENTHIVE_CLIENT_PORT", DEFAULT_CLIENT_PORT))
    internal_port = int(os.environ.get("FRONT_INTERNAL_PORT", DEFAULT_INTERNAL_PORT))
    sys.stdout.write(render(folder, ports_from(os.environ), front_port, client_port, internal_port))


if __name__ == "__main__":
    main()
