"""The split's API router routes the API by path and passes the client's X-Forwarded-* on as they came.

The router is overlays/split/api-router.conf.

The configuration is taken from the rendered overlay's ConfigMap and run in this machine's nginx;
only what a cluster has and this machine has not is changed: the listening address, and each
service's name in ``proxy_pass`` becomes a local server that answers with what it received.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ..e2e.conftest import free_port, wait_until
from ..e2e.test_behind_a_proxy import NGINX, require
from .manifests import http_get, of_kind, rendered

SERVICES = ("auth", "tickets", "orders", "payments")

MAIN = """
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/default.conf;
}}
"""


class _Echo(BaseHTTPRequestHandler):
    """Answers every GET with the service's name, the path and the headers it received."""

    service = ""

    def do_GET(self) -> None:
        body = json.dumps({"service": self.service, "path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The router's configuration in nginx, each service a local echo server; yields nginx's port."""
    tmp_path = tmp_path_factory.mktemp("api-router")
    require(NGINX.exists(), f"nginx is not installed at {NGINX} (bash .ci/install-nginx installs it)")
    (config_map,) = [
        c for c in of_kind(rendered("split"), "ConfigMap") if c["metadata"]["name"].startswith("eventhive-api-router")
    ]
    config = config_map["data"]["default.conf"]
    servers = []
    for service in SERVICES:
        handler = type(f"Echo_{service}", (_Echo,), {"service": service})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        # In the cluster, the Service eventhive-<role> (port 80); here, its echo server.
        config, replaced = re.subn(
            rf"proxy_pass http://eventhive-{service};", f"proxy_pass http://127.0.0.1:{server.server_port};", config
        )
        assert replaced == 1, f"the router names no eventhive-{service}"
    port = free_port()
    config, replaced = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", config)
    assert replaced == 1
    (tmp_path / "default.conf").write_text(config)
    (tmp_path / "nginx.conf").write_text(MAIN.format(folder=tmp_path))
    process = subprocess.Popen(
        [str(NGINX), "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_until(lambda: _status(port, "/healthz") == 200 or process.poll() is not None, 15)
        assert process.poll() is None, (tmp_path / "error.log").read_text()
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=15)
        for server in servers:
            server.shutdown()


def _status(port: int, path: str) -> int:
    try:
        return http_get(port, path)[0]
    except OSError:
        return 0


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/users/currentuser", "auth"),
        ("/api/users", "auth"),
        ("/api/tickets?owner=me", "tickets"),
        ("/api/tickets/abc", "tickets"),
        ("/api/orders/abc", "orders"),
        ("/api/payments", "payments"),
        ("/api/payments/webhooks/stripe", "payments"),
    ],
)
def test_the_router_sends_each_api_path_to_its_service(router: int, path: str, service: str) -> None:
    status, body = http_get(router, path)

    assert status == 200
    assert json.loads(body)["service"] == service
    assert json.loads(body)["path"] == path


@pytest.mark.parametrize("path", ["/", "/tickets/new", "/api/ticketsX", "/api/health", "/api/usersadmin"])
def test_the_router_answers_404_for_anything_but_the_services_paths(router: int, path: str) -> None:
    assert http_get(router, path)[0] == 404


def test_the_router_passes_on_the_browsers_address_scheme_and_host_as_the_client_sent_them(router: int) -> None:
    forwarded = {
        "Host": "eventhive.dev",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "eventhive.dev",
    }

    status, body = http_get(router, "/api/orders", forwarded)
    received = {name.lower(): value for name, value in json.loads(body)["headers"].items()}

    assert status == 200
    # Not the router's peer appended: the services (one proxy hop) read the browser's address.
    assert received["x-forwarded-for"] == "203.0.113.9"
    assert received["x-forwarded-proto"] == "https"
    assert received["x-forwarded-host"] == "eventhive.dev"
    assert received["host"] == "eventhive.dev"
