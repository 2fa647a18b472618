"""EventHive's Celery tasks: each turns JSON arguments into one call on the bound Hive.

The tasks hold no logic of their own: idempotency lives in the handlers (a repeated expiry
returns ``already_final``; a repeated event is dropped by its processed-message id), so a task
redelivered after a worker crash, or run by two workers at once, changes nothing the second time.

Every task acknowledges late (a worker killed mid-task leaves the message to the broker, which
hands it out again), ignores results, and retries lost races and transient database errors with
exponential backoff and jitter, at most ``MAX_RETRIES`` times.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task

from eventhive_core.adapters.celery.binding import hive_for
from eventhive_core.adapters.celery.bus import CeleryEventBus
from eventhive_core.adapters.celery.request_ids import connect_request_id_signals
from eventhive_core.adapters.celery.task_names import DELIVER_EVENT, EXPIRE_ORDER, RELAY_OUTBOX, SWEEP_EXPIRED
from eventhive_core.domain.errors import ConcurrencyConflict, ConfigurationError, NotFound, TransientStorageError
from eventhive_core.ports.messages import Message

# Re-exported for callers that read it here; the catch-up itself lives in the core now.
from eventhive_core.service_layer.expiry import CATCH_UP_AFTER
from eventhive_core.service_layer.orders import ExpireResult

log = logging.getLogger(__name__)

# Whoever registers these tasks runs them with the request id of their message bound.
connect_request_id_signals()

#: Errors worth running the same task again for.
RETRY_ON: tuple[type[Exception], ...] = (ConcurrencyConflict, TransientStorageError)

#: Retries of one task before it gives up (the sweeper still covers an expiry that gave up).
MAX_RETRIES = 5

#: Retries of one event delivery: longer, because nothing else would deliver it again.
DELIVERY_MAX_RETRIES = 12

#: What ``expire_order`` returns when a catch-up sweep of its worker already ended the hold.
SWEPT = str(ExpireResult.SWEPT)

#: The longest wait between two retries (seconds).
MAX_BACKOFF = 300

_COMMON: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "retry_backoff": True,
    "retry_backoff_max": MAX_BACKOFF,
    "retry_jitter": True,
}


def _task(name: str, **options: Any) -> Callable[[Callable[..., object]], Any]:
    # Celery ships no types: say here, once, that a decorated function becomes a (untyped) task.
    decorator: Callable[[Callable[..., object]], Any] = shared_task(name=name, **_COMMON, **options)
    return decorator


@_task(EXPIRE_ORDER, autoretry_for=RETRY_ON, max_retries=MAX_RETRIES)
def expire_order(self: Task, order_id: str, fire_at: str | None = None) -> str:
    """Expire order ``order_id`` if its hold ran out; return what happened (``expired``, ``already_final``...).

    The Hive does the work, catch-up included (``hive.expire(order_id, fire_at=...)``): a task
    that runs late and cancels its order sweeps every due hold, and later tasks for holds that
    ended before that sweep return ``swept``. A task that runs early is retried at the order's
    due time: the retry is Celery's part.

    Args:
        self: The task (bound).
        order_id: The order.
        fire_at: The ISO time the task was scheduled for (the order's own expiry decides).
    """
    hive = hive_for(self.app)
    result = hive.expire(order_id, fire_at=_parse(fire_at))
    if result is ExpireResult.NOT_DUE:
        # The timer ran early (clock step, or a producer with another clock): try again when it is due.
        try:
            retry_at = hive.queries.order(order_id).expires_at + hive.settings.expiry_grace
        except NotFound:
            return str(ExpireResult.NOT_FOUND)
        eta = max(retry_at, hive.clock.now() + timedelta(milliseconds=100))
        log.info("Expiry of %s (scheduled for %s) ran early; retrying at %s", order_id, fire_at, eta.isoformat())
        raise self.retry(eta=eta, max_retries=MAX_RETRIES)
    log.debug("Expiry of %s (scheduled for %s): %s", order_id, fire_at, result)
    return str(result)


def _parse(fire_at: str | None) -> datetime | None:
    if fire_at is None:
        return None
    try:
        due = datetime.fromisoformat(fire_at)
    except ValueError:
        return None
    return due if due.utcoffset() is not None else None


@_task(SWEEP_EXPIRED, autoretry_for=RETRY_ON, max_retries=MAX_RETRIES)
def sweep_expired(self: Task) -> int:
    """Expire every due hold; return how many orders were cancelled."""
    count = hive_for(self.app).sweep()
    if count:
        log.info("Sweeper expired %d order(s)", count)
    return count


@_task(RELAY_OUTBOX, autoretry_for=RETRY_ON, max_retries=MAX_RETRIES)
def relay_outbox(self: Task) -> int:
    """Publish every ready outbox event to the event bus; return how many were published."""
    count = hive_for(self.app).relay_outbox()
    if count:
        log.info("Relay published %d event(s)", count)
    return count


@_task(DELIVER_EVENT, autoretry_for=(Exception,), max_retries=DELIVERY_MAX_RETRIES)
def deliver_event(self: Task, envelope_json: str, subscriber: str) -> None:
    """Hand one event (its envelope as JSON) to the subscriber named ``subscriber``.

    Any failure is retried with backoff: the outbox row is already marked sent, so this task is
    the event's only way on. A repeat is dropped by the subscriber's processed-message ids.

    Raises:
        ConfigurationError: This worker's event bus is not the ``celery`` one.
    """
    try:
        head = json.loads(envelope_json)
        message = Message(id=str(head["id"]), type=str(head["type"]), body=envelope_json)
    except (ValueError, KeyError, TypeError):
        # Retrying cannot repair a broken message; say so loudly and drop it.
        log.error("Dropped an undecodable event for %s: %.200s", subscriber, envelope_json)
        return
    bus = hive_for(self.app).bus
    if not isinstance(bus, CeleryEventBus):
        raise ConfigurationError(
            f"This worker's event bus is {type(bus).__name__}, but it received {message.type} {message.id} "
            "for the Celery bus: set EVENTHIVE_EVENT_BUS=celery in every process."
        )
    bus.deliver(subscriber, message)


__all__ = [
    "CATCH_UP_AFTER",
    "DELIVERY_MAX_RETRIES",
    "MAX_BACKOFF",
    "MAX_RETRIES",
    "RETRY_ON",
    "SWEPT",
    "deliver_event",
    "expire_order",
    "relay_outbox",
    "sweep_expired",
]
