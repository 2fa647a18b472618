"""The Celery adapters inside one process: options, binding, ETA messages, task outcomes (no broker needed).

Messages go through kombu's in-memory transport, so what is asserted is the real message a
worker would receive; the tasks run eagerly against a Hive on memory storage and a frozen clock.
"""

from __future__ import annotations

import gc
import json
import secrets
import threading
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Retry

from eventhive_core import ConfigurationError, CreateTicket, OrderStatus, PlaceOrder, SignUp
from eventhive_core.adapters.celery import (
    CeleryEventBus,
    CeleryOptions,
    CeleryScheduler,
    bind_hive,
    hive_for,
    make_celery,
    unbind_hive,
)
from eventhive_core.adapters.celery.beat import RELAY_ENTRY, SWEEP_ENTRY
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT, EXPIRE_ORDER
from eventhive_core.testing.fakes import FrozenClock
from eventhive_core.testing.hives import make_test_hive

from .conftest import recorded


@pytest.fixture
def queue() -> str:
    return f"eventhive-memory-{secrets.token_hex(4)}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def hive(clock: FrozenClock, queue: str) -> Iterator[Any]:
    options = {"queue": queue, "broker_url": "memory://"}
    made = make_test_hive(
        clock,
        scheduler="celery",
        scheduler_options=options,
        event_bus="celery",
        event_bus_options=options,
        reservation_ttl=60,
        expiry_grace=2,
        sweep_interval=5,
        outbox_poll_interval=0.5,
    )
    yield made
    made.close()


@pytest.fixture
def app(hive: Any) -> Iterator[Celery]:
    made = make_celery(hive, config={"task_always_eager": False})
    yield made
    unbind_hive(made)
    made.close()


def drain(app: Celery, queue: str) -> list[Any]:
    """Take every message waiting in ``queue`` (in-memory broker)."""
    taken = []
    with app.connection_for_read() as conn:
        simple = conn.SimpleQueue(queue, no_ack=True)
        while True:
            try:
                taken.append(simple.get(block=False))
            except simple.Empty:
                break
        simple.close()
    return taken


def place(hive: Any) -> Any:
    seller = hive.handle(SignUp(email=f"s{secrets.token_hex(3)}@example.com", password="password1")).user.id
    buyer = hive.handle(SignUp(email=f"b{secrets.token_hex(3)}@example.com", password="password1")).user.id
    ticket = hive.handle(CreateTicket(owner_id=seller, title="Gig", price="10"))
    return hive.handle(PlaceOrder(buyer_id=buyer, ticket_id=ticket.id))


def test_options_refuse_unknown_keys_and_default_to_the_eventhive_queue() -> None:
    assert CeleryOptions.from_mapping({}).queue == "eventhive"
    with pytest.raises(ConfigurationError, match="visibility_timeout"):
        CeleryOptions.from_mapping({"visibility_timeout": 10})


def test_a_task_app_without_a_bound_hive_says_how_to_start_workers() -> None:
    lonely = Celery("lonely", broker="memory://", set_as_current=False)
    with pytest.raises(ConfigurationError, match="eventhive worker"):
        hive_for(lonely)


def test_binding_keeps_one_hive_per_app_and_refuses_a_second(hive: Any, app: Celery, clock: FrozenClock) -> None:
    assert hive_for(app) is hive
    other = make_test_hive(clock)
    try:
        with pytest.raises(ConfigurationError, match="already serves another Hive"):
            bind_hive(app, other)
        second = Celery("second", broker="memory://", set_as_current=False)
        bind_hive(second, other)
        assert hive_for(second) is other
        assert hive_for(app) is hive
    finally:
        other.close()


def test_the_binding_does_not_keep_a_dropped_celery_app_alive(hive: Any) -> None:
    app = Celery("short-lived", broker="memory://", set_as_current=False)
    bind_hive(app, hive)
    dropped = weakref.ref(app)
    del app
    gc.collect()
    assert dropped() is None


def test_binding_sends_the_hives_tasks_through_the_bound_app(hive: Any, app: Celery) -> None:
    assert isinstance(hive.scheduler, CeleryScheduler)
    assert isinstance(hive.bus, CeleryEventBus)
    assert hive.scheduler.sender.app is app
    assert hive.bus.sender.app is app


def test_an_expiry_is_sent_with_an_absolute_utc_eta_never_a_countdown(hive: Any, app: Celery, queue: str) -> None:
    fire_at = datetime(2030, 5, 1, 14, 0, 2, tzinfo=timezone(timedelta(hours=2)))

    hive.scheduler.schedule("01a00000-0000-7000-8000-000000000001", fire_at)

    (message,) = drain(app, queue)
    assert message.headers["task"] == EXPIRE_ORDER
    assert datetime.fromisoformat(message.headers["eta"]) == fire_at
    assert message.headers["eta"].endswith("+00:00")
    args, kwargs, _ = json.loads(message.body) if isinstance(message.body, str) else message.decode()
    assert args == ["01a00000-0000-7000-8000-000000000001", "2030-05-01T12:00:02+00:00"]
    assert kwargs == {}


def test_a_naive_expiry_time_is_refused(hive: Any) -> None:
    with pytest.raises(ValueError, match="aware"):
        hive.scheduler.schedule("01a00000-0000-7000-8000-000000000001", datetime(2030, 1, 1))


def test_the_relay_sends_one_delivery_task_per_subscriber_and_the_order_gets_its_expiry_after_commit(
    hive: Any, app: Celery, queue: str
) -> None:
    order = place(hive)
    assert drain(app, queue) == []  # nothing is sent inside the command: only after commit, by the relay

    assert hive.relay_outbox() == 2  # ticket:created (no subscriber: no task) and order:created
    (delivery,) = drain(app, queue)
    assert delivery.headers["task"] == DELIVER_EVENT
    body, subscriber = delivery.decode()[0]
    assert subscriber == "expiration.schedule_expiry"
    assert json.loads(body)["type"] == "order:created"

    app.tasks[DELIVER_EVENT].apply(args=[body, subscriber]).get()
    (expiry,) = drain(app, queue)
    assert expiry.headers["task"] == EXPIRE_ORDER
    assert datetime.fromisoformat(expiry.headers["eta"]) == order.expires_at + timedelta(seconds=2)


def test_expire_order_cancels_a_due_hold_once_and_then_reports_it_final(hive: Any, app: Celery, clock: FrozenClock):
    order = place(hive)
    clock.advance(seconds=61)

    assert app.tasks[EXPIRE_ORDER].apply(args=[order.id]).get() == "expired"
    assert app.tasks[EXPIRE_ORDER].apply(args=[order.id]).get() == "already_final"
    assert hive.queries.order(order.id).status is OrderStatus.CANCELLED


def test_an_expiry_that_runs_early_is_retried_at_the_due_time_and_cancels_nothing(
    hive: Any, app: Celery, queue: str
) -> None:
    order = place(hive)
    task = app.tasks[EXPIRE_ORDER]
    # As a worker runs it (not eagerly): a retry is a new message on the broker.
    args = [order.id, order.expires_at.isoformat()]
    task.push_request(
        id="early",
        args=args,
        kwargs={},
        retries=0,
        is_eager=False,
        called_directly=False,
        delivery_info={"exchange": "", "routing_key": queue},
    )
    try:
        with pytest.raises(Retry):
            task.run(*args)
    finally:
        task.pop_request()

    (retry,) = drain(app, queue)
    assert retry.headers["task"] == EXPIRE_ORDER
    assert retry.headers["retries"] == 1
    assert datetime.fromisoformat(retry.headers["eta"]) == order.expires_at + timedelta(seconds=2)
    assert hive.queries.order(order.id).status is OrderStatus.CREATED


def test_a_delivery_for_an_unknown_subscriber_fails_so_celery_retries_it(hive: Any, app: Celery) -> None:
    place(hive)
    now = hive.clock.now()
    with hive.uow() as uow:
        records = uow.outbox.claim(now, now + timedelta(seconds=30), 10)
    created = next(r.message for r in records if r.message.type == "order:created")
    outcome = app.tasks[DELIVER_EVENT].apply(args=[created.body, "billing.nobody"], throw=False)
    assert outcome.state in ("RETRY", "FAILURE")


def test_an_undecodable_event_is_dropped_instead_of_retried_forever(app: Celery) -> None:
    outcome = app.tasks[DELIVER_EVENT].apply(args=["{not json", "expiration.schedule_expiry"])
    assert outcome.state == "SUCCESS"


def test_make_celery_adds_the_sweeper_and_relay_to_beat_and_routes_our_tasks(app: Celery, queue: str) -> None:
    schedule = app.conf.beat_schedule
    assert schedule[SWEEP_ENTRY]["schedule"] == 5.0
    assert schedule[RELAY_ENTRY]["schedule"] == 0.5
    assert app.conf.task_default_queue == queue
    assert app.amqp.router.route({}, EXPIRE_ORDER)["queue"].name == queue


def test_make_celery_without_any_broker_says_where_to_set_one(clock: FrozenClock, monkeypatch) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    hive = make_test_hive(clock, scheduler="celery")
    try:
        with pytest.raises(ConfigurationError, match="CELERY_BROKER_URL"):
            make_celery(hive)
    finally:
        hive.close()


def test_celery_broker_url_wins_over_the_broker_url_option(monkeypatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://from-the-environment")
    assert CeleryOptions.from_mapping({"broker_url": "memory://from-options"}).resolved_broker_url() == (
        "memory://from-the-environment"
    )
    monkeypatch.delenv("CELERY_BROKER_URL")
    assert CeleryOptions.from_mapping({"broker_url": "memory://from-options"}).resolved_broker_url() == (
        "memory://from-options"
    )


def test_a_hive_on_the_celery_scheduler_starts_no_expiry_timer_of_its_own(hive: Any) -> None:
    hive.start(background=True)  # what `eventhive serve` and EVENTHIVE_RUN_BACKGROUND do

    names = {thread.name for thread in threading.enumerate()}
    assert "eventhive-expiry-scheduler" not in names
    assert "eventhive-relay" in names  # the relay still runs: it is what sends the expiry tasks


def test_a_late_expiry_catches_up_on_every_due_hold_and_the_queued_ones_need_no_database(
    hive: Any, app: Celery, clock: FrozenClock
) -> None:
    orders = [place(hive) for _ in range(3)]
    clock.advance(seconds=70)  # every hold ended 10 s ago: the worker is far behind
    fire_at = [(o.expires_at + timedelta(seconds=2)).isoformat() for o in orders]

    assert app.tasks[EXPIRE_ORDER].apply(args=[orders[0].id, fire_at[0]]).get() == "expired"

    assert all(recorded(hive, o.id).status is OrderStatus.CANCELLED for o in orders)
    assert app.tasks[EXPIRE_ORDER].apply(args=[orders[1].id, fire_at[1]]).get() == "swept"
    # A hold that ends after the catch-up sweep started is not covered: its task reads the database.
    later = place(hive)
    clock.advance(seconds=70)
    late_fire_at = (later.expires_at + timedelta(seconds=2)).isoformat()
    assert app.tasks[EXPIRE_ORDER].apply(args=[later.id, late_fire_at]).get() == "expired"


def test_an_expiry_on_time_cancels_only_its_own_order(hive: Any, app: Celery, clock: FrozenClock) -> None:
    mine, other = place(hive), place(hive)
    clock.advance(seconds=62)  # due, and the task runs on time (fire_at is now)

    now = hive.clock.now().isoformat()
    assert app.tasks[EXPIRE_ORDER].apply(args=[mine.id, now]).get() == "expired"

    assert recorded(hive, mine.id).status is OrderStatus.CANCELLED
    assert recorded(hive, other.id).status is OrderStatus.CREATED


def test_catch_up_for_still_returns_the_state_the_hive_sweeps_with_and_warns_that_it_is_deprecated(
    hive: Any, app: Celery, clock: FrozenClock
) -> None:
    from eventhive_core.adapters.celery.binding import CatchUp, catch_up_for

    orders = [place(hive) for _ in range(2)]
    clock.advance(seconds=70)
    assert app.tasks[EXPIRE_ORDER].apply(args=[orders[0].id, orders[0].expires_at.isoformat()]).get() == "expired"

    with pytest.deprecated_call(match="hive.expire"):
        state = catch_up_for(app)

    assert isinstance(state, CatchUp)
    assert state.covers(orders[1].expires_at)
