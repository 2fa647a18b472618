"""What an outside probe found in a real ``eventhive serve``, each checked over real sockets.

- With an EdDSA key pair and the pages on (the default), every worker must boot, and the
  command line must work with the private key alone.
- An answer given before the request body was read (401 before parsing, 413 for a declared or a
  chunked body over the limit) must leave the keep-alive connection usable for the next request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here

EVENTHIVE = os.path.join(os.path.dirname(sys.executable), "eventhive")
LARGE = 200_000  # over the API's 64 KiB body limit


def test_serve_with_an_eddsa_private_key_alone_boots_with_its_pages_and_the_cli_bans(
    start_server: Callable[..., Server],
) -> None:
    private_key, _ = generate_ed25519_keypair()
    env = {"EVENTHIVE_JWT_ALGORITHM": "EdDSA", "EVENTHIVE_JWT_PRIVATE_KEY": private_key}
    server = start_server(workers=2, **env)
    browser = server.browser()

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/auth/signup", timeout=10) as page:
        assert page.status == 200  # the pages' CSRF cookie has a secret to be signed with
        assert "_csrf=" in page.headers.get("Set-Cookie", "")
    signup = browser.request("POST", "/api/users/signup", {"email": "ed@example.com", "password": "secret1"})

    assert signup.status == 201
    log = server.log.read_text()
    assert "Worker failed to boot" not in log, log
    assert (server.data_dir / "pages-secret").stat().st_mode & 0o777 == 0o600
    banned = subprocess.run(
        [EVENTHIVE, "users", "ban", "ed@example.com"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")},
            **env,
            "EVENTHIVE_STORAGE": "sqlalchemy",
            "EVENTHIVE_DATABASE_URL": f"sqlite:///{server.data_dir / 'eventhive.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert banned.returncode == 0, banned.stderr
    assert "Banned ed@example.com" in banned.stdout
    assert browser.request("GET", "/api/orders").status == 401  # the ban reaches the running server


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str]]:
    """Send one request and read one whole response (status and headers) from a kept-alive socket."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return int(lines[0].split()[1]), headers


def post(path: str, body: bytes, *, chunked: bool = False) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if chunked:
        return (
            (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


HEALTH = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    ("label", "request_bytes", "status"),
    [
        ("a 401 before the body is read", post("/api/tickets", b'{"title": "t"}' + b" " * LARGE), 401),
        ("a 413 for a declared length", post("/api/users/signup", b"{}" + b" " * LARGE), 413),
        ("a 413 for a chunked body", post("/api/users/signup", b"{}" + b" " * LARGE, chunked=True), 413),
        ("a 404 with a body", post("/api/nowhere", b"{}" + b" " * LARGE), 404),
    ],
)
def test_an_early_answer_leaves_the_kept_alive_connection_usable(
    start_server: Callable[..., Server], label: str, request_bytes: bytes, status: int
) -> None:
    server = start_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        first, headers = exchange(sock, request_bytes)
        assert first == status, label
        if headers.get("connection", "").lower() != "close":
            # It said keep-alive: the next request on the same connection must be answered.
            assert exchange(sock, HEALTH)[0] == 200, label
