"""HTTP metrics for every request, and ``GET /metrics`` for Prometheus behind a bearer token.

Each answered request counts in ``eventhive_http_requests_total`` by method, route template
(Flask's ``url_rule``: ``/api/orders/<order_id>``, never the path) and status, 4xx, 5xx and
rate-limited 429s included, and its time in ``eventhive_http_request_duration_seconds``.

``/metrics`` (under ``EVENTHIVE_URL_PREFIX``) is off the public path by default: it exists only
when ``EVENTHIVE_METRICS_TOKEN`` is set, and then answers only ``Authorization: Bearer <token>``
(compared in constant time). Under ``eventhive serve`` any worker answers a scrape with the counts
of every worker, read from the multiprocess directory :func:`multiprocess_for_workers` prepares
in the arbiter before the workers fork.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from pydantic import SecretStr

from eventhive_core.observability import metrics
from eventhive_flask.state import current_hive

#: The name of the ``/metrics`` endpoint.
ENDPOINT = "eventhive_metrics"

_STARTED = "eventhive_metrics_started"


def install(app: Flask, url_prefix: str, token: SecretStr | None) -> None:
    """Count and time every request of ``app``; serve ``/metrics`` when ``token`` is set.

    Call it before other ``before_request`` functions are registered (rate limits, say), so
    that the time of a request they refuse is measured too.
    """
    app.before_request(_start_timer)
    app.after_request(_count)
    if token is not None:
        secret = token.get_secret_value().encode()
        app.add_url_rule(f"{url_prefix}/metrics", ENDPOINT, lambda: _scrape(secret), methods=["GET"])


def _start_timer() -> None:
    g.setdefault(_STARTED, time.perf_counter())


def _count(response: Response) -> Response:
    started: float | None = g.get(_STARTED)
    rule = request.url_rule
    seconds = None if started is None else time.perf_counter() - started
    metrics.http_request(request.method, rule.rule if rule is not None else None, response.status_code, seconds)
    return response


def _scrape(secret: bytes) -> Response:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret):
        return Response(
            "Send the metrics token: Authorization: Bearer <EVENTHIVE_METRICS_TOKEN>\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = metrics.exposition(current_hive.metrics_collectors())
    return Response(body, 200, {"Cache-Control": "no-store"}, content_type=content_type)


def multiprocess_for_workers(data_dir: Path, port: int) -> str:
    """Give gunicorn's workers one fresh multiprocess directory for their metrics; return it.

    Called in the arbiter before it forks the workers. The directory is ``metrics/<port>`` in
    the data folder: the services of a split may share a folder, never a port. It is emptied
    at start and kept at exit (see :func:`eventhive_core.observability.metrics.multiprocess_for_children`).
    """
    return metrics.multiprocess_for_children(data_dir / "metrics" / str(port))


def worker_exited(arbiter: Any, worker: Any) -> None:
    """Tell the metrics a gunicorn worker is gone (the ``child_exit`` hook)."""
    metrics.process_exited(worker.pid)


__all__ = ["ENDPOINT", "install", "multiprocess_for_workers", "worker_exited"]
