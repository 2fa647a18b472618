"""The NATS JetStream event bus (``EVENTHIVE_EVENT_BUS=nats``; needs the ``nats`` extra).

See :mod:`eventhive_core.adapters.nats.bus` for how it delivers, and
:mod:`eventhive_core.adapters.nats.subjects` for the names it uses on the server.
"""

from eventhive_core.adapters.nats.bus import (
    BusClosed,
    DeadLetter,
    DeliveryFailed,
    NatsBus,
    PublishFailed,
    ReplayReport,
)

__all__ = ["BusClosed", "DeadLetter", "DeliveryFailed", "NatsBus", "PublishFailed", "ReplayReport"]
