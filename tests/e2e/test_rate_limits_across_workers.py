"""A brute-force sign-in loop against ``eventhive serve --workers 4``: the limit holds across workers with Redis.

Each attempt opens a new connection, so gunicorn spreads them over its four workers; with the
counters in Redis (``EVENTHIVE_REDIS_URL``) the account's limit is one limit, not one per worker.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest

Server = Any  # the fixture's Server (tests/e2e/conftest.py); conftest modules are not importable here

REDIS_URL = os.environ.get("EVENTHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable() -> bool:
    host_port = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=2):
            return True
    except OSError:
        return False


def attempt(port: int, email: str, password: str) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"email": email, "password": password})
        conn.request("POST", "/api/users/signin", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.headers)
    finally:
        conn.close()


def test_a_brute_force_loop_is_held_to_one_limit_across_four_workers_with_redis(
    start_server: Callable[..., Server],
) -> None:
    if not redis_reachable():
        reason = f"Redis not reachable at {REDIS_URL}; start it or set EVENTHIVE_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: every service must be running)", pytrace=False)
        pytest.skip(reason)
    server = start_server(workers=4, EVENTHIVE_REDIS_URL=REDIS_URL, EVENTHIVE_RATE_LIMIT_SIGNIN_ACCOUNT="5 per minute")
    email = f"victim-{uuid.uuid4().hex[:12]}@example.com"  # a fresh account: its own counter in Redis
    assert server.browser().request("POST", "/api/users/signup", {"email": email, "password": "secret1"}).status == 201

    answers = [attempt(server.port, email, f"guess-{n}") for n in range(24)]

    statuses = [status for status, _ in answers]
    assert statuses.count(400) == 5, statuses  # five wrong guesses answered, then the limit
    assert statuses.count(429) == 19, statuses
    assert all(headers.get("Retry-After") for status, headers in answers if status == 429)
    log = server.log.read_text()
    assert "shared in Redis" in log
    assert "times each limit" not in log  # no per-worker warning: the counters are shared
