"""Names on the NATS server: the stream, the subjects of events, dead letters and retries, the consumers.

Pure functions of the prefix (``EVENTHIVE_NATS_PREFIX``), so every process of an installation
derives the same names, and a tool that only reads this page can find them too.

=========================  ====================================  ============================
what                       name                                  example (prefix ``eventhive``)
=========================  ====================================  ============================
the stream                 the prefix in upper case              ``EVENTHIVE``
an event                   ``<prefix>.<type, ':' as '.'>``       ``eventhive.order.created``
a role's dead letters      ``<prefix>.dead.<role>``              ``eventhive.dead.orders``
a retry for one role       ``<prefix>.retry.<role>.<type>``      ``eventhive.retry.orders.order.created``
a role's durable consumer  ``<STREAM>_<role>``                   ``EVENTHIVE_orders``
=========================  ====================================  ============================

``dead`` and ``retry`` are therefore reserved as the first word of an event type.
"""

from __future__ import annotations

import re

from eventhive_core.domain.errors import ConfigurationError

__all__ = [
    "DEAD",
    "RETRY",
    "check_role",
    "consumer_name",
    "dead_subject",
    "event_subject",
    "retry_subject",
    "stream_name",
    "stream_subjects",
    "type_of_subject",
]

#: The reserved first token of dead-letter subjects.
DEAD = "dead"
#: The reserved first token of retry subjects.
RETRY = "retry"

# A role becomes a subject token and part of a consumer name: no dots, wildcards or spaces.
_ROLE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_role(role: str) -> str:
    """Return ``role`` if it can name a subject token and a consumer.

    Raises:
        ConfigurationError: It is empty or holds a dot, a wildcard, a space or another character NATS refuses.

    Examples:
        >>> check_role("orders")
        'orders'
    """
    if not _ROLE.match(role):
        raise ConfigurationError(
            f"Subscriber role {role!r} cannot be used on NATS: a role names a subject token and a durable "
            "consumer, so it may hold only letters, digits, '_' and '-'"
        )
    return role


def stream_name(prefix: str) -> str:
    """Return the stream that holds every subject under ``prefix``.

    Examples:
        >>> stream_name("eventhive")
        'EVENTHIVE'
    """
    return prefix.upper()


def stream_subjects(prefix: str) -> list[str]:
    """Return the subjects the stream is configured with.

    Examples:
        >>> stream_subjects("eventhive")
        ['eventhive.>']
    """
    return [f"{prefix}.>"]


def event_subject(prefix: str, event_type: str) -> str:
    """Return the subject of ``event_type``.

    Examples:
        >>> event_subject("eventhive", "order:created")
        'eventhive.order.created'
    """
    return f"{prefix}.{event_type.replace(':', '.')}"


def dead_subject(prefix: str, role: str) -> str:
    """Return the dead-letter subject of ``role``.

    Examples:
        >>> dead_subject("eventhive", "orders")
        'eventhive.dead.orders'
    """
    return f"{prefix}.{DEAD}.{role}"


def retry_subject(prefix: str, role: str, event_type: str) -> str:
    """Return the subject that delivers ``event_type`` to ``role`` alone (retried dead letters).

    Examples:
        >>> retry_subject("eventhive", "orders", "order:created")
        'eventhive.retry.orders.order.created'
    """
    return event_subject(f"{prefix}.{RETRY}.{role}", event_type)


def consumer_name(prefix: str, role: str) -> str:
    """Return the durable consumer of ``role``.

    Examples:
        >>> consumer_name("eventhive", "orders")
        'EVENTHIVE_orders'
    """
    return f"{stream_name(prefix)}_{role}"


def type_of_subject(prefix: str, subject: str) -> tuple[str | None, str | None]:
    """Read ``(role, event type)`` from a subject: role None for an event, type None for a dead letter.

    Returns ``(None, None)`` for a subject outside the prefix.

    Examples:
        >>> type_of_subject("eventhive", "eventhive.order.created")
        (None, 'order:created')
        >>> type_of_subject("eventhive", "eventhive.retry.orders.order.created")
        ('orders', 'order:created')
        >>> type_of_subject("eventhive", "eventhive.dead.orders")
        ('orders', None)
    """
    head, _, rest = subject.partition(".")
    if head != prefix or not rest:
        return None, None
    first, _, tail = rest.partition(".")
    if first == DEAD:
        return tail or None, None
    if first == RETRY:
        role, _, type_tokens = tail.partition(".")
        return role or None, type_tokens.replace(".", ":") or None
    return None, rest.replace(".", ":")
