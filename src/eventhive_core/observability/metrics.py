"""EventHive's Prometheus metrics: defined once here, moved by one-line helpers where things happen.

Every metric is named ``eventhive_*`` with its unit in the name, and labelled with a small fixed
set of values (route templates, never paths; event subjects; outcomes), so a scrape stays small
whatever the traffic. docs/operations.md ("Metrics") lists each one with its meaning.

The metrics live in prometheus-client's default registry. Several processes of one server
(gunicorn workers, Celery's prefork children) add theirs up through a multiprocess directory:
:func:`use_multiprocess_dir` switches this process to it before the workers fork, and
:func:`exposition_registry` then reads every process's files at scrape time.

Every metric has at least one label, on purpose: prometheus-client picks where a value is kept
(memory or the multiprocess directory) when the value is made, and a labelled metric makes its
values at first use, which is after :func:`use_multiprocess_dir` in every worker.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: The environment variable prometheus-client reads for its multiprocess directory.
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

#: HTTP methods kept as they are in labels; any other (a client may send anything) is ``other``.
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: The route label of a request no route matched (a 404 of an unknown path).
UNMATCHED_ROUTE: Final = "<unmatched>"

HTTP_REQUESTS = Counter(
    "eventhive_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "eventhive_http_request_duration_seconds",
    "Time from a request's arrival in the app to its response, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESERVATIONS = Counter(
    "eventhive_reservations_total",
    "Orders placed (outcome=placed) and refused because the ticket was sold out (outcome=sold_out).",
    ["outcome"],
)
COMMAND_RETRIES = Counter(
    "eventhive_command_retries_total",
    "Commands run again after losing a race (reason=conflict) or meeting a busy database (reason=transient).",
    ["command", "reason"],
)
HOLD_EXPIRY_LAG = Histogram(
    "eventhive_hold_expiry_lag_seconds",
    "How long after its hold ran out an order was cancelled, by what cancelled it (order or sweep).",
    ["by"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
)
PAYMENTS = Counter(
    "eventhive_payments_total",
    "Charges asked of the payment provider, by what it answered.",
    ["outcome"],
)
WEBHOOKS = Counter(
    "eventhive_webhooks_total",
    "Payment provider webhooks received, by what they did (applied, duplicate, ignored, rejected).",
    ["outcome"],
)
EVENTS_PUBLISHED = Counter(
    "eventhive_events_published_total",
    "Outbox events the relay handed to the event bus (outcome=sent) or failed to (outcome=failed), by subject.",
    ["subject", "outcome"],
)
EVENTS_CONSUMED = Counter(
    "eventhive_events_consumed_total",
    "Events delivered to a subscriber, by subscriber, subject and outcome (processed, duplicate, failed).",
    ["subscriber", "subject", "outcome"],
)

#: Every metric above, for :func:`use_multiprocess_dir` (and the docs test).
METRICS: Final[tuple[Counter | Histogram, ...]] = (
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    RESERVATIONS,
    COMMAND_RETRIES,
    HOLD_EXPIRY_LAG,
    PAYMENTS,
    WEBHOOKS,
    EVENTS_PUBLISHED,
    EVENTS_CONSUMED,
)

#: The gauges :class:`OutboxCollector` reads at scrape time.
OUTBOX_BACKLOG: Final = "eventhive_outbox_backlog"
OUTBOX_OLDEST_AGE: Final = "eventhive_outbox_oldest_age_seconds"


def http_request(method: str, route: str | None, status: int, seconds: float | None) -> None:
    """Count one answered HTTP request and observe its duration (None: not timed).

    Args:
        method: The request's method (unknown ones are counted as ``other``).
        route: The matched route's template (``/api/orders/<order_id>``), None when none matched.
        status: The response's status code.
        seconds: How long the app took.
    """
    shown_method = method if method in KNOWN_METHODS else "other"
    shown_route = route or UNMATCHED_ROUTE
    HTTP_REQUESTS.labels(shown_method, shown_route, str(status)).inc()
    if seconds is not None:
        HTTP_REQUEST_DURATION.labels(shown_method, shown_route).observe(seconds)


def reservation_placed() -> None:
    """Count an order placed (its units reserved and committed)."""
    RESERVATIONS.labels("placed").inc()


def reservation_sold_out() -> None:
    """Count an order refused because its ticket had too few units left."""
    RESERVATIONS.labels("sold_out").inc()


def command_retried(command: str, reason: str) -> None:
    """Count a command run again (``reason``: ``conflict`` or ``transient``)."""
    COMMAND_RETRIES.labels(command, reason).inc()


def holds_expired(by: str, now: datetime, expired_at: Iterable[datetime]) -> None:
    """Observe how late each hold that ran out at ``expired_at`` was cancelled at ``now``.

    Args:
        by: What cancelled them: ``order`` (one order at a time) or ``sweep`` (a batch).
        now: When they were cancelled.
        expired_at: When each one's hold ran out.
    """
    child = HOLD_EXPIRY_LAG.labels(by)
    for moment in expired_at:
        child.observe(max((now - moment).total_seconds(), 0.0))


def payment(outcome: str) -> None:
    """Count a provider's answer to a charge (succeeded, pending, declined, refused, error, unknown)."""
    PAYMENTS.labels(outcome).inc()


def webhook(outcome: str) -> None:
    """Count a webhook by what it did (applied, duplicate, ignored, rejected)."""
    WEBHOOKS.labels(outcome).inc()


def event_published(subject: str, sent: bool) -> None:
    """Count an outbox event of ``subject`` (``order:created``) handed to the bus (``sent``) or not."""
    EVENTS_PUBLISHED.labels(subject, "sent" if sent else "failed").inc()


def event_consumed(subscriber: str, subject: str, outcome: str) -> None:
    """Count a delivery to ``subscriber`` (outcome ``processed``, ``duplicate`` or ``failed``)."""
    EVENTS_CONSUMED.labels(subscriber, subject, outcome).inc()


class OutboxCollector(Collector):
    """The outbox's backlog, read from the storage at scrape time (one cheap query per scrape).

    Read when scraped rather than kept in a gauge: the answer is the same whichever process
    serves the scrape, needs nothing of the multiprocess directory, and is never older than
    the scrape. A storage that cannot be read leaves both gauges out of that scrape (logged),
    so a database outage never fails the whole scrape.

    Args:
        read: Returns how many events wait in the outbox and when the oldest of them occurred.
        now: The Hive's clock.
    """

    def __init__(self, read: Callable[[], tuple[int, datetime | None]], now: Callable[[], datetime]) -> None:
        self._read = read
        self._now = now

    def collect(self) -> Iterator[Metric]:
        """Yield ``eventhive_outbox_backlog`` and ``eventhive_outbox_oldest_age_seconds``."""
        try:
            count, oldest = self._read()
        except Exception as exc:  # a scrape must answer even while the database does not
            log.warning("Could not read the outbox backlog for a metrics scrape: %s", exc)
            return
        yield GaugeMetricFamily(OUTBOX_BACKLOG, "Outbox events not yet published (dead ones excluded).", count)
        if oldest is None and count:
            return  # a storage that does not tell the oldest event's time: no age rather than a wrong 0
        age = 0.0 if oldest is None else max((self._now() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(OUTBOX_OLDEST_AGE, "Age of the oldest unpublished outbox event (0 when none).", age)


class _DefaultRegistry(Collector):
    """This process's own metrics (prometheus-client's default registry), inside another registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """Return the multiprocess directory this process writes its metrics to, or None."""
    return os.environ.get(MULTIPROC_ENV) or None


def use_multiprocess_dir(directory: str) -> None:
    """Keep this process's metrics, and its future children's, in ``directory`` from now on.

    Call it before forking workers: their counts then add up at every scrape. prometheus-client
    chooses memory or files when it is imported, which happened long before (EventHive's modules
    define their metrics at import), so the choice is made again here, and any value made so far
    is dropped (the parent process has counted nothing worth keeping).
    """
    for metric in METRICS:
        metric.clear()  # before the switch: prometheus-client cannot clear values kept in files
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # prometheus-client is untyped here


def multiprocess_for_children(fresh: Path | None = None) -> str:
    """Give this process and the children it will fork one multiprocess directory; return it.

    Call it before forking (gunicorn's arbiter, Celery's prefork pool). A directory the
    environment names already (``PROMETHEUS_MULTIPROC_DIR``) is used as it is: whoever set it
    wipes it between runs. Otherwise ``fresh`` is emptied (or made) and used; it is left in
    place at exit, since a worker that is still stopping may write to it, and the next start
    empties it. Without ``fresh``, a new temporary directory is made and removed at exit.

    Args:
        fresh: A directory that belongs to this server alone (nothing else runs from it).
    """
    directory = multiprocess_dir()
    if directory is None and fresh is not None:
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        directory = str(fresh)
    elif directory is None:
        directory = tempfile.mkdtemp(prefix="eventhive-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    use_multiprocess_dir(directory)
    return directory


def process_exited(pid: int) -> None:
    """Tell the multiprocess directory a worker ``pid`` is gone (gunicorn's ``child_exit`` hook)."""
    if multiprocess_dir() is not None:
        mark_process_dead(pid)  # type: ignore[no-untyped-call]


def exposition_registry(collectors: Iterable[Collector] = ()) -> CollectorRegistry:
    """Return a registry of everything a scrape shows: every process's metrics, then ``collectors``.

    With a multiprocess directory, the metrics of every process writing to it, added up;
    without, this process's own.
    """
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir() is not None:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_DefaultRegistry())
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(collectors: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """Return a scrape's body in Prometheus's text format and its content type."""
    return generate_latest(exposition_registry(collectors)), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int, collectors: Iterable[Collector] = ()) -> tuple[str, int]:
    """Answer scrapes on ``host``:``port`` from a daemon thread (for processes without a web app).

    Returns:
        The address and port it listens on (the real port when ``port`` is 0).
    """
    server, _thread = start_http_server(port, addr=host, registry=exposition_registry(collectors))
    address, bound = server.server_address[:2]
    return str(address), int(bound)


__all__ = [
    "COMMAND_RETRIES",
    "EVENTS_CONSUMED",
    "EVENTS_PUBLISHED",
    "HOLD_EXPIRY_LAG",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "KNOWN_METHODS",
    "METRICS",
    "MULTIPROC_ENV",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "PAYMENTS",
    "RESERVATIONS",
    "UNMATCHED_ROUTE",
    "WEBHOOKS",
    "OutboxCollector",
    "command_retried",
    "event_consumed",
    "event_published",
    "exposition",
    "exposition_registry",
    "holds_expired",
    "http_request",
    "multiprocess_dir",
    "multiprocess_for_children",
    "payment",
    "process_exited",
    "reservation_placed",
    "reservation_sold_out",
    "serve_metrics",
    "use_multiprocess_dir",
    "webhook",
]
