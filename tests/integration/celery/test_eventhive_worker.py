"""``eventhive worker --beat`` alone runs a deployment's background work: the sweeper and the relay."""

from __future__ import annotations

from collections import Counter

from eventhive_core import OrderStatus

from .conftest import Market, Rows, wait_until


def test_eventhive_worker_with_beat_sweeps_due_holds_and_relays_their_events(deploy, make_hive, rows: Rows):
    # No expiry tasks at all (scheduler "none"): only beat's sweeper can cancel the hold.
    deployment = deploy(scheduler="none", reservation_ttl=1, sweep_interval=1, outbox_poll_interval=0.5)
    worker = deployment.eventhive_worker(beat=True)
    hive = make_hive(deployment)
    market = Market.open(hive)
    order = market.order(market.ticket())

    wait_until(lambda: hive.queries.order(order.id).status is OrderStatus.CANCELLED, timeout=15)
    # Beat's relay publishes everything, including the cancellation the sweeper wrote.
    wait_until(lambda: all(e["sent_at"] is not None for e in rows.outbox()), timeout=10)

    assert Counter(e["type"] for e in rows.events_for(order.id)) == {
        "order:created": 1,
        "expiration:complete": 1,
        "order:cancelled": 1,
    }
    assert "eventhive.sweep_expired" in worker.output()
    assert "EVENTHIVE_SCHEDULER is 'none'" in worker.output()
