"""``kill -9`` the worker (and its beat) while expiries are pending: nothing is lost, nothing runs twice."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

from eventhive_core import OrderStatus
from eventhive_core.adapters.celery.task_names import EXPIRE_ORDER
from eventhive_core.service_layer.expiry import SCHEDULE_EXPIRY

from .conftest import Market, Rows, recorded, subscribers_of, tasks_received, units_held, wait_until

HOLDS = 8


def test_after_a_kill_9_and_a_restart_every_due_hold_is_cancelled_once_and_no_event_is_lost(
    deploy, make_hive, rows: Rows
):
    deployment = deploy(
        # Redis hands unacknowledged messages out again after visibility_timeout; RabbitMQ at once.
        redis_transport={"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1},
        reservation_ttl=5,
        sweep_interval=1,
        outbox_poll_interval=0.5,
    )
    worker = deployment.celery_worker("crashy", beat=True)
    hive = make_hive(deployment)
    market = Market.open(hive)
    tickets = [market.ticket() for _ in range(HOLDS)]
    orders = [market.order(ticket) for ticket in tickets]
    created = {e["envelope_id"] for e in rows.outbox() if e["type"] == "order:created"}

    # Beat's relay publishes the orders; the worker's schedule_expiry sends their ETA tasks, which it then holds.
    wait_until(lambda: {e["envelope_id"] for e in rows.outbox() if e["sent_at"]} >= created, timeout=15)
    wait_until(lambda: tasks_received(worker, task=EXPIRE_ORDER) >= HOLDS, timeout=15)
    assert all(recorded(hive, o.id).status is OrderStatus.CREATED for o in orders)

    worker.kill()
    # Every hold runs out while no worker and no beat is alive.
    time.sleep(max(0.0, (max(o.expires_at for o in orders) - datetime.now(UTC)).total_seconds()) + 0.3)
    assert all(recorded(hive, o.id).status is OrderStatus.CREATED for o in orders)

    restarted = time.monotonic()
    deployment.celery_worker("crashy", beat=True)
    wait_until(lambda: all(recorded(hive, o.id).status is OrderStatus.CANCELLED for o in orders), timeout=30)

    def everything_delivered() -> bool:
        outbox = rows.outbox()
        subscribers = subscribers_of(hive)
        # Every subscriber that stores records each event; scheduling expiry stores nothing.
        wanted = {
            (name, e["envelope_id"])
            for e in outbox
            for name in subscribers.get(e["type"], [])
            if name != SCHEDULE_EXPIRY
        }
        return all(e["sent_at"] is not None for e in outbox) and wanted <= rows.processed()

    wait_until(everything_delivered, timeout=max(1.0, 30 - (time.monotonic() - restarted)))

    outbox = rows.outbox()
    assert not [e for e in outbox if e["dead"]]
    for order in orders:
        assert Counter(e["type"] for e in rows.events_for(order.id)) == {
            "order:created": 1,
            "expiration:complete": 1,
            "order:cancelled": 1,
        }
    assert all(units_held(deployment.database_url, ticket) == 0 for ticket in tickets)
    # The audit subscribers reacted once per event even though some tasks were handed out twice.
    lines = Counter(deployment.audit_log.read_text().splitlines())
    assert set(lines.values()) == {1}
    audited = [(name, e["envelope_id"]) for e in outbox for name in subscribers_of(hive).get(e["type"], [])]
    assert len(lines) == len([pair for pair in audited if pair[0].startswith("audit.")])
