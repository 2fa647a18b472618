"""A plugin the Celery tests load in every process: one audit subscriber per event type.

Each reaction appends ``<subscriber> <event id>`` to the file named by ``EVENTHIVE_TEST_AUDIT_LOG``
(when set), so a test can see how many times a subscriber really ran, not only that its
processed-message row exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from eventhive_core import hookimpl

#: Event types the audit subscribers follow.
AUDITED = ("order:created", "order:cancelled", "expiration:complete")

AUDIT_LOG_ENV = "EVENTHIVE_TEST_AUDIT_LOG"


def subscriber_name(event_type: str) -> str:
    return "audit." + event_type.replace(":", ".")


def _reaction(name: str) -> Callable[[object, object], None]:
    def react(envelope: object, uow: object) -> None:
        path = os.environ.get(AUDIT_LOG_ENV)
        if path:
            # One short write per line with O_APPEND: lines from concurrent workers never interleave.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{name} {envelope.id}\n".encode())  # type: ignore[attr-defined]
            finally:
                os.close(fd)

    return react


class AuditSubscribers:
    """Registers ``audit.<type>`` for every audited event type."""

    @hookimpl
    def eventhive_register_subscribers(self, register: Callable[..., None]) -> None:
        for event_type in AUDITED:
            register(subscriber_name(event_type), event_type, "audit", _reaction(subscriber_name(event_type)))
