"""``eventhive serve`` behind a real nginx, as the original ran behind its ingress for ``eventhive.dev``.

nginx (Debian's package; ``.ci/install-nginx`` installs it when missing) stands in for a proxy
terminating TLS: the test speaks plain HTTP to it, and it forwards ``X-Forwarded-Proto: https``
and ``X-Forwarded-Host: eventhive.dev``, either keeping the client's ``Host`` or rewriting it to
the upstream's. With ``EVENTHIVE_PROXY_HOPS=1`` the whole purchase works from the
``https://eventhive.dev`` origin with Secure cookies; without it the forwarded headers count for
nothing, whoever sends them.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here

NGINX = Path(os.environ.get("EVENTHIVE_TEST_NGINX", "/usr/sbin/nginx"))
ORIGIN = "https://eventhive.dev"


def require(available: bool, reason: str) -> None:
    """Skip when a tool is missing, or fail under ``CI=true`` (CI never passes by skipping)."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: bash .ci/install-nginx must have installed it)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


NGINX_CONF = """
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
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            {host_line}
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host eventhive.dev;
            proxy_set_header X-Forwarded-Port 443;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[Callable[[int, bool], Proxy]]:
    """``start_proxy(upstream_port, keep_host)``: an nginx in front of a server, forwarding as an ingress."""
    require(NGINX.exists(), f"nginx is not installed at {NGINX} (bash .ci/install-nginx installs it)")
    started: list[Proxy] = []

    def start(upstream: int, keep_host: bool) -> Proxy:
        folder = tmp_path / f"nginx-{len(started)}"
        folder.mkdir()
        port = free_port()
        host_line = "proxy_set_header Host $host;" if keep_host else f"proxy_set_header Host 127.0.0.1:{upstream};"
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, port=port, upstream=upstream, host_line=host_line))
        process = subprocess.Popen(
            [str(NGINX), "-c", str(conf), "-p", str(folder), "-e", str(folder / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proxy = Proxy(process, port, folder)
        started.append(proxy)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proxy
            except OSError:
                assert process.poll() is None, (folder / "error.log").read_text()
                time.sleep(0.05)
        pytest.fail(f"nginx did not listen:\n{(folder / 'error.log').read_text()}")

    yield start
    for proxy in started:
        proxy.stop()


@dataclass
class Visitor:
    """A browser on https://eventhive.dev, whose requests reach ``port`` (the proxy, or serve itself)."""

    port: int
    extra: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Host": "eventhive.dev", "Origin": ORIGIN, **self.extra}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.set_cookies.append(header)
                name, _, rest = header.partition("=")
                value = rest.split(";")[0]
                if value:
                    self.cookies[name] = value
            return response.status, json.loads(payload) if payload else None
        finally:
            conn.close()


def buy_and_pay(port: int) -> tuple[Visitor, Visitor]:
    """Sign up, sign in, sell, buy and pay through ``port`` from the https://eventhive.dev origin."""
    seller, buyer = Visitor(port), Visitor(port)
    assert seller.call("POST", "/api/users/signup", {"email": "seller@eventhive.dev", "password": "secret1"})[0] == 201
    assert buyer.call("POST", "/api/users/signup", {"email": "buyer@eventhive.dev", "password": "secret2"})[0] == 201
    assert buyer.call("POST", "/api/users/signin", {"email": "buyer@eventhive.dev", "password": "secret2"})[0] == 200
    status, ticket = seller.call("POST", "/api/tickets", {"title": "Ingress night", "price": 20})
    assert status == 201, ticket
    status, order = buyer.call("POST", "/api/orders", {"ticketId": ticket["id"]})
    assert status == 201, order
    status, payment = buyer.call("POST", "/api/payments", {"orderId": order["id"], "token": "tok_visa"})
    assert (status, payment["status"]) == (201, "succeeded"), payment
    assert buyer.call("GET", f"/api/orders/{order['id']}")[1]["status"] == "complete"
    return seller, buyer


@pytest.mark.parametrize("keep_host", [True, False], ids=["keeping Host", "rewriting Host"])
def test_with_one_trusted_hop_the_whole_purchase_works_from_the_https_origin_with_secure_cookies(
    start_server: Callable[..., Server], start_proxy: Callable[[int, bool], Proxy], keep_host: bool
) -> None:
    server = start_server(EVENTHIVE_PROXY_HOPS="1")
    proxy = start_proxy(server.port, keep_host)

    seller, buyer = buy_and_pay(proxy.port)

    for cookie in seller.set_cookies + buyer.set_cookies:
        if cookie.startswith("eventhive="):
            assert "Secure" in cookie, cookie
    # URLs the app builds name the public address, not the upstream one.
    for _ in range(2):
        assert seller.call("POST", "/api/tickets", {"title": "More", "price": 5})[0] == 201
    links = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    links.request("GET", "/api/tickets?limit=1", headers={"Host": "eventhive.dev"})
    assert links.getresponse().headers["Link"].startswith("<https://eventhive.dev/api/tickets?")


@pytest.mark.parametrize("keep_host", [True, False], ids=["keeping Host", "rewriting Host"])
def test_without_the_hops_setting_the_forwarded_origin_is_refused(
    start_server: Callable[..., Server], start_proxy: Callable[[int, bool], Proxy], keep_host: bool
) -> None:
    server = start_server()
    proxy = start_proxy(server.port, keep_host)

    status, body = Visitor(proxy.port).call(
        "POST", "/api/users/signup", {"email": "a@eventhive.dev", "password": "secret1"}
    )

    assert (status, body) == (403, {"errors": [{"message": "Cross-site request refused"}]})


def test_forwarded_headers_sent_straight_to_serve_gain_nothing(start_server: Callable[..., Server]) -> None:
    server = start_server()
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "eventhive.dev", "X-Forwarded-For": "203.0.113.9"}
    visitor = Visitor(server.port, extra=forged)

    status, _ = visitor.call("POST", "/api/users/signup", {"email": "a@eventhive.dev", "password": "secret1"})

    assert status == 403
    # Same origin as the server really is: accepted, and no Secure cookie over plain HTTP.
    plain = Visitor(server.port, extra=forged)
    plain_origin = {"Origin": f"http://127.0.0.1:{server.port}", "Host": f"127.0.0.1:{server.port}"}
    plain.extra.update(plain_origin)
    status, _ = plain.call("POST", "/api/users/signup", {"email": "b@eventhive.dev", "password": "secret1"})
    assert status == 201
    assert all("Secure" not in cookie for cookie in plain.set_cookies if cookie.startswith("eventhive="))


def test_serve_trusts_no_forwarded_headers_in_gunicorn_itself() -> None:
    from eventhive_flask.serve import gunicorn_options

    assert gunicorn_options("127.0.0.1", 8000, 2, 4)["forwarded_allow_ips"] == ""
