"""``eventhive worker --beat`` alone runs a deployment's background work: the sweeper and the relay."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections import Counter
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from eventhive_core import OrderStatus

from .conftest import Market, Process, Rows, recorded, wait_until


def swept_and_relayed(deploy, make_hive, rows: Rows, **intervals: float) -> tuple[Process, Any]:
    """Start ``eventhive worker --beat``, place one order, wait until beat swept it and relayed every event.

    No expiry tasks at all (scheduler "none"): only beat's sweeper can cancel the hold.
    """
    deployment = deploy(scheduler="none", reservation_ttl=1, **intervals)
    worker = deployment.eventhive_worker(beat=True)
    hive = make_hive(deployment)
    market = Market.open(hive)
    order = market.order(market.ticket())
    wait_until(lambda: recorded(hive, order.id).status is OrderStatus.CANCELLED, timeout=15)
    # Beat's relay publishes everything, including the cancellation the sweeper wrote.
    wait_until(lambda: all(e["sent_at"] is not None for e in rows.outbox()), timeout=10)
    return worker, order


def test_eventhive_worker_with_beat_sweeps_due_holds_and_relays_their_events(deploy, make_hive, rows: Rows):
    worker, order = swept_and_relayed(deploy, make_hive, rows, sweep_interval=1, outbox_poll_interval=0.5)

    assert Counter(e["type"] for e in rows.events_for(order.id)) == {
        "order:created": 1,
        "expiration:complete": 1,
        "order:cancelled": 1,
    }
    assert "eventhive.sweep_expired" in worker.output()
    assert "EVENTHIVE_SCHEDULER is 'none'" in worker.output()


def test_the_worker_log_shows_what_the_sweeper_and_relay_did_and_not_their_idle_ticks(deploy, make_hive, rows: Rows):
    worker, _ = swept_and_relayed(deploy, make_hive, rows, sweep_interval=0.5, outbox_poll_interval=0.25)
    worker.wait_for("Sweeper expired 1 order(s)")
    worker.wait_for("Relay published")
    # The rows are marked sent before the task that sent them logs its line: wait for the lines
    # of every relay that published, so the quiet window below starts after the last of them.
    events = len(rows.outbox())
    relayed = re.compile(r"Task eventhive\.relay_outbox\[[^\]]+\] succeeded in [0-9.e-]+s: (\d+)$", re.M)
    wait_until(lambda: sum(int(n) for n in relayed.findall(worker.messages())) >= events, timeout=10)
    # Beat keeps ticking: over 2 s about 8 relays and 4 sweeps run and find nothing to do.
    quiet_from = len(worker.output())
    time.sleep(2)
    idle_lines = worker.output()[quiet_from:]

    assert "eventhive.relay_outbox" not in idle_lines
    assert "eventhive.sweep_expired" not in idle_lines
    assert "Sending due task" not in idle_lines
    # The tick that did something kept Celery's own line, with what it returned.
    assert re.search(r"Task eventhive\.sweep_expired\[[^\]]+\] succeeded in [0-9.e-]+s: 1$", worker.messages(), re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scraped(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample ``eventhive worker --metrics-port`` serves, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_worker_serves_the_metrics_of_its_pool_processes_and_the_outbox(deploy, make_hive, rows: Rows):
    port = free_port()
    deployment = deploy(scheduler="none", reservation_ttl=1, sweep_interval=0.5, outbox_poll_interval=0.25)
    worker = deployment.eventhive_worker(beat=True, extra=["--metrics-port", str(port)])
    worker.wait_for(f"metrics: http://127.0.0.1:{port}/metrics")
    hive = make_hive(deployment)
    market = Market.open(hive)
    order = market.order(market.ticket())
    wait_until(lambda: recorded(hive, order.id).status is OrderStatus.CANCELLED, timeout=15)
    wait_until(lambda: all(e["sent_at"] is not None for e in rows.outbox()), timeout=10)

    # The sweep and the relay ran in the pool's processes; their counts reach the worker's port.
    def counted() -> bool:
        samples = scraped(port)
        return (
            samples.get(("eventhive_events_published_total", (("outcome", "sent"), ("subject", "order:cancelled"))))
            == 1
        )

    wait_until(counted, timeout=10)
    samples = scraped(port)
    assert samples[("eventhive_hold_expiry_lag_seconds_count", (("by", "sweep"),))] == 1
    assert samples[("eventhive_events_published_total", (("outcome", "sent"), ("subject", "expiration:complete")))] == 1
    assert samples[("eventhive_outbox_backlog", ())] == 0
