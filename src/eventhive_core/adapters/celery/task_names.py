"""The names of EventHive's Celery tasks: a stable wire contract between producers and workers.

Producers send tasks by name (``send_task``), so a web process never imports the task code and
an older worker still understands a newer producer as long as these names and arguments hold.
"""

from __future__ import annotations

from typing import Final

#: ``expire_order(order_id, fire_at_iso)``: expire one order if its hold ran out.
EXPIRE_ORDER: Final = "eventhive.expire_order"

#: ``sweep_expired()``: expire every due hold (beat, every ``EVENTHIVE_SWEEP_INTERVAL``).
SWEEP_EXPIRED: Final = "eventhive.sweep_expired"

#: ``relay_outbox()``: publish committed outbox events (beat, every ``EVENTHIVE_OUTBOX_POLL_INTERVAL``).
RELAY_OUTBOX: Final = "eventhive.relay_outbox"

#: ``deliver_event(envelope_json, subscriber)``: hand one event to one named subscriber.
DELIVER_EVENT: Final = "eventhive.deliver_event"

#: Every task name, for routing (``eventhive.*``).
ALL: Final = (EXPIRE_ORDER, SWEEP_EXPIRED, RELAY_OUTBOX, DELIVER_EVENT)

__all__ = ["ALL", "DELIVER_EVENT", "EXPIRE_ORDER", "RELAY_OUTBOX", "SWEEP_EXPIRED"]
