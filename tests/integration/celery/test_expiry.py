"""A real ``celery worker`` expires holds on time, once, on Redis and on RabbitMQ."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from eventhive_core import OrderStatus
from eventhive_core.service_layer.expiry import SCHEDULE_EXPIRY

from .conftest import Market, Rows, recorded, subscribers_of, units_held, wait_until


def test_a_two_second_hold_is_cancelled_by_the_worker_once_and_its_ticket_is_free_again(deploy, make_hive, rows: Rows):
    deployment = deploy(reservation_ttl=2, sweep_interval=3600)
    deployment.celery_worker()
    hive = make_hive(deployment)
    market = Market.open(hive)
    ticket = market.ticket()

    order = market.order(ticket)
    # The web process's relay publishes order:created; the worker's schedule_expiry sends the ETA task.
    assert hive.relay_outbox() >= 1

    # Wait for the worker to record the expiry (a query shows the hold expired as soon as it ends).
    cancelled = wait_until(
        lambda: (stored := recorded(hive, order.id)).status is OrderStatus.CANCELLED and stored,
        timeout=15,
        also=hive.relay_outbox,
    )
    assert cancelled.cancel_reason == "expired"
    assert hive.queries.order(order.id).status is OrderStatus.CANCELLED
    assert units_held(deployment.database_url, ticket) == 0
    assert hive.queries.ticket(ticket).available == 1

    events = rows.events_for(order.id)
    assert Counter(e["type"] for e in events) == {"order:created": 1, "expiration:complete": 1, "order:cancelled": 1}
    cancel = next(e for e in events if e["type"] == "order:cancelled")
    # The worker cancelled it on its ETA: not before the hold ended, and no sweeper ran (interval 1 h).
    assert cancel["occurred_at"] >= order.expires_at

    # Every subscriber that stores records each event once; scheduling expiry stores nothing.
    wanted = {
        (name, e["envelope_id"]) for e in events for name in subscribers_of(hive)[e["type"]] if name != SCHEDULE_EXPIRY
    }
    assert SCHEDULE_EXPIRY in subscribers_of(hive)["order:created"]
    processed = wait_until(lambda: wanted <= (found := rows.processed()) and found, timeout=10, also=hive.relay_outbox)
    assert {p for p in processed if p[1] in {e["envelope_id"] for e in events}} == wanted
    audit_lines = Counter(deployment.audit_log.read_text().splitlines())
    assert all(count == 1 for count in audit_lines.values())
    assert len(audit_lines) == len([w for w in wanted if w[0].startswith("audit.")])
    assert datetime.now(UTC) > order.expires_at
