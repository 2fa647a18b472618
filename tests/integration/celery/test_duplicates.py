"""Repeats change nothing: the same expiry or event twice, two workers at once, a late expiry of a paid order."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from eventhive_core import OrderStatus, PayOrder
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT, EXPIRE_ORDER
from eventhive_core.ports.messages import Message

from .conftest import Market, Rows, recorded, task_results, units_held, wait_until


def test_one_expiry_sent_six_times_to_two_workers_at_once_cancels_the_order_once(deploy, make_hive, rows: Rows):
    deployment = deploy(reservation_ttl=2)
    workers = [deployment.celery_worker("w1"), deployment.celery_worker("w2")]
    hive = make_hive(deployment)
    market = Market.open(hive)
    ticket = market.ticket()
    order = market.order(ticket)

    # Six copies due at the same instant: both workers, two threads each, race for the one order.
    for _ in range(6):
        hive.scheduler.schedule(order.id, order.expires_at)

    results = wait_until(
        lambda: sum((found := task_results(*workers, task=EXPIRE_ORDER)).values()) == 6 and found, timeout=20
    )
    # One cancels; the others change nothing ('swept' when the worker ran late and had caught up already).
    assert results["'expired'"] == 1
    assert set(results) <= {"'expired'", "'already_final'", "'swept'"}
    assert recorded(hive, order.id).status is OrderStatus.CANCELLED
    assert Counter(e["type"] for e in rows.events_for(order.id)) == {
        "order:created": 1,
        "expiration:complete": 1,
        "order:cancelled": 1,
    }
    assert units_held(deployment.database_url, ticket) == 0


def test_an_event_delivered_twice_is_handled_once_by_each_storing_subscriber_and_cancels_the_order_once(
    deploy, make_hive, rows: Rows
):
    deployment = deploy(reservation_ttl=2)
    workers = [deployment.celery_worker("w1"), deployment.celery_worker("w2")]
    hive = make_hive(deployment)
    market = Market.open(hive)
    order = market.order(market.ticket())
    created = next(e for e in rows.events_for(order.id) if e["type"] == "order:created")
    message = Message(id=created["envelope_id"], type="order:created", body=created["body"])

    # What a relay that crashed between publishing and marking sent does: publish the same event again.
    hive.bus.publish(message)
    hive.bus.publish(message)

    wait_until(lambda: sum(task_results(*workers, task=DELIVER_EVENT).values()) == 4, timeout=15)
    # The audit subscriber writes, so it records the id and drops the copy; scheduling expiry
    # needs no storage, so each copy sets a timer: two expiry tasks, the second changing nothing.
    assert {(s, m) for s, m in rows.processed() if m == message.id} == {("audit.order.created", message.id)}
    assert deployment.audit_log.read_text().splitlines() == [f"audit.order.created {message.id}"]
    results = wait_until(
        lambda: sum((found := task_results(*workers, task=EXPIRE_ORDER)).values()) == 2 and found, timeout=15
    )
    assert results["'expired'"] == 1
    assert recorded(hive, order.id).status is OrderStatus.CANCELLED
    assert Counter(e["type"] for e in rows.events_for(order.id))["order:cancelled"] == 1


def test_a_paid_order_is_never_cancelled_by_a_late_expiry(deploy, make_hive, rows: Rows):
    deployment = deploy(reservation_ttl=3, expiry_grace=0)
    worker = deployment.celery_worker()
    hive = make_hive(deployment)
    market = Market.open(hive)
    ticket = market.ticket()
    order = market.order(ticket)
    hive.relay_outbox()  # the ETA task is on its way

    payment = hive.handle(PayOrder(order_id=order.id, actor_id=market.buyers[0], token="tok_visa"))
    assert payment.status == "succeeded"
    # And a redelivered expiry long after the hold ended.
    time.sleep(max(0.0, (order.expires_at - datetime.now(UTC)).total_seconds()))
    hive.scheduler.schedule(order.id, datetime.now(UTC) + timedelta(milliseconds=100))

    results = wait_until(lambda: sum((found := task_results(worker, task=EXPIRE_ORDER)).values()) == 2 and found, 15)
    assert results == {"'already_final'": 2}
    assert hive.queries.order(order.id).status is OrderStatus.COMPLETE
    assert Counter(e["type"] for e in rows.events_for(order.id)) == {
        "order:created": 1,
        "payment:created": 1,
        "order:completed": 1,
    }
    assert hive.queries.ticket(ticket).sold == 1
